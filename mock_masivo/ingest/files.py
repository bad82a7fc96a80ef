"""`mock-masivo validate`: the server's parser, validator and batch rules, applied to files."""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..domain.kinds import EVENT, PROFILE, TRANSACTION, Kind, count_records
from ..errors import BadRequest
from .checker import fast_paths
from .fastpath import FastPath
from .parsing import parse_object
from .validation import PayloadValidator

# --kind's words: what users call each body (Masivo's endpoints), and the record kind it migrates.
KIND_WORDS = {"events": EVENT, "customers": PROFILE, "transactions": TRANSACTION}

EXIT_VALID, EXIT_VIOLATIONS, EXIT_USAGE = 0, 1, 2
JSON_LINES = (".jsonl", ".ndjson")  # files read as one body per line without --jsonl


@dataclass
class Tally:
    bodies: int = 0
    invalid: int = 0
    violations: int = 0
    records: Counter[str] = field(default_factory=Counter)  # by the kind's plural: events, profiles, ...

    def checked(self) -> str:
        return (
            ", ".join(_count(count, plural.removesuffix("s"), plural) for plural, count in self.records.items())
            or "0 events"
        )


def validate_paths(
    paths: tuple[str, ...],
    strict: bool,
    jsonl: bool,
    out: Callable[[str], None],
    err: Callable[[str], None],
    kind: str | None = None,
) -> int:
    """Print one line per violation and a summary; return the exit code. `kind` is a KIND_WORDS key; without
    it, each body's kind is told from its shape, and each file says which kinds were assumed."""
    validators = {word: PayloadValidator(strict=strict, kind=chosen) for word, chosen in KIND_WORDS.items()}
    compiled = fast_paths()
    fast = {word: compiled[chosen.name] for word, chosen in KIND_WORDS.items()}
    tally = Tally()
    unreadable = 0
    for path in paths:
        try:
            bodies = list(_bodies(path, jsonl or path.endswith(JSON_LINES)))
        except OSError as exc:  # said, and the other files still checked
            err(f"{path}: cannot read: {exc.strerror}")
            unreadable += 1
            continue
        assumed: Counter[str] = Counter()
        for where, raw in bodies:
            for line in _check(validators, fast, kind, raw, tally, assumed):
                out(f"{where}: {line}")
        if assumed:
            told = ", ".join(f"{count} as {word}" for word, count in assumed.items())
            out(f"{path}: checked {told} (told from each body's shape; --kind chooses)")
    verdict = "all valid" if not tally.invalid else f"{tally.invalid} invalid"
    skipped = f"; {_count(unreadable, 'file')} could not be read" if unreadable else ""
    out(
        f"{_count(tally.bodies, 'body', 'bodies')}, {tally.checked()} checked: {verdict}, "
        f"{tally.violations} violation(s){skipped}"
    )
    if unreadable:
        return EXIT_USAGE
    return EXIT_VIOLATIONS if tally.invalid else EXIT_VALID


def _count(number: int, one: str, many: str | None = None) -> str:
    return f"{number} {one if number == 1 else many or one + 's'}"


def tell_kind(body: Any) -> str:
    """The KIND_WORDS key of a body: a customer entry with `events` is events, with `transactions`
    transactions, otherwise customers (profiles)."""
    customers = body.get("customers") if isinstance(body, dict) else None
    first = customers[0] if isinstance(customers, list) and customers and isinstance(customers[0], dict) else {}
    for word in ("events", "transactions"):
        if word in first:
            return word
    return "customers"


def _fast_verdict(
    fast: dict[str, FastPath | None], kind: str | None, raw: bytes, tally: Tally, assumed: Counter[str]
) -> bool:
    """Whether the fast path proved the body valid (counted); False leaves it to the full path. Without
    --kind, the kinds are tried in turn: a valid body fits one kind's closed schema only, the one
    tell_kind would name."""
    for word in [kind] if kind else list(KIND_WORDS):
        compiled = fast[word]
        accepted = compiled.accept(raw) if compiled is not None else None
        if accepted is not None:
            tally.records[KIND_WORDS[word].plural] += sum(len(records) for _, records in accepted[0])
            if kind is None:
                assumed[word] += 1
            return True
    return False


def _bodies(path: str, per_line: bool) -> Iterator[tuple[str, bytes]]:
    data = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    if not per_line:
        yield path, data
        return
    for number, line in enumerate(data.split(b"\n"), start=1):
        if line.strip():
            yield f"{path}:{number}", line


def _check(
    validators: dict[str, PayloadValidator],
    fast: dict[str, FastPath | None],
    kind: str | None,
    raw: bytes,
    tally: Tally,
    assumed: Counter[str],
) -> list[str]:
    tally.bodies += 1
    if _fast_verdict(fast, kind, raw, tally, assumed):
        return []
    try:
        body = parse_object(raw)
    except BadRequest as exc:
        tally.invalid += 1
        tally.violations += 1
        return [f"/: {exc.details}"]
    if kind is None:
        kind = tell_kind(body)
        assumed[kind] += 1
    validator = validators[kind]
    report = validator.check(body)
    chosen: Kind = validator.kind
    tally.records[chosen.plural] += count_records(chosen.items, body)
    if report.ok:
        return []
    tally.invalid += 1
    tally.violations += len(report.violations)
    lines = [f"{violation.path or '/'}: {violation.message}" for violation in report.violations]
    if report.truncated:
        lines.append(f"...: more violations; only the first {len(report.violations)} are listed")
    return lines
