"""`mock-masivo validate`: the server's parser, validator and batch rules, applied to files."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from .errors import BadRequest
from .parsing import parse_object
from .validation import PayloadValidator, count_events

EXIT_VALID, EXIT_VIOLATIONS, EXIT_USAGE = 0, 1, 2


@dataclass
class Tally:
    bodies: int = 0
    invalid: int = 0
    violations: int = 0
    events: int = 0


def validate_paths(paths: tuple[str, ...], strict: bool, jsonl: bool,
                   out: Callable[[str], None], err: Callable[[str], None]) -> int:
    """Print one line per violation and a summary; return the exit code."""
    validator, tally = PayloadValidator(strict=strict), Tally()
    for path in paths:
        try:
            bodies = list(_bodies(path, jsonl or path.endswith(".jsonl")))
        except OSError as exc:
            err(f"{path}: cannot read: {exc.strerror}")
            return EXIT_USAGE
        for where, raw in bodies:
            for line in _check(validator, raw, tally):
                out(f"{where}: {line}")
    verdict = "all valid" if not tally.invalid else f"{tally.invalid} invalid"
    out(f"{tally.bodies} bodies, {tally.events} events checked: {verdict}, {tally.violations} violation(s)")
    return EXIT_VIOLATIONS if tally.invalid else EXIT_VALID


def _bodies(path: str, per_line: bool) -> Iterator[tuple[str, bytes]]:
    data = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    if not per_line:
        yield path, data
        return
    for number, line in enumerate(data.split(b"\n"), start=1):
        if line.strip():
            yield f"{path}:{number}", line


def _check(validator: PayloadValidator, raw: bytes, tally: Tally) -> list[str]:
    tally.bodies += 1
    try:
        body = parse_object(raw)
    except BadRequest as exc:
        tally.invalid += 1
        tally.violations += 1
        return [f"/: {exc.details}"]
    report = validator.check(body)
    tally.events += count_events(body)
    if report.ok:
        return []
    tally.invalid += 1
    tally.violations += len(report.violations)
    lines = [f"{violation.path or '/'}: {violation.message}" for violation in report.violations]
    if report.truncated:
        lines.append(f"...: more violations; only the first {len(report.violations)} are listed")
    return lines

