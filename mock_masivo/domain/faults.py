"""Fault rules: make Masivo-compatible routes fail, slow down or drop the connection on purpose.

A rule matches by path (with or without the /api/storefront/v1 prefix), method and account (all
optional), fires at most `times` times, and with `probability` fires at random; with `seed` the
random sequence is repeatable. Pure: the HTTP side lives in middleware.py.
"""

from __future__ import annotations

import itertools
import math
import random
import re
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from ..config import MASIVO_BASE_PATH
from ..errors import Violation

DROP_MODES = ("before", "after")
_FIELDS = {
    "path": str,
    "method": str,
    "account": str,
    "status": int,
    "body": object,
    "delay_ms": (int, float),
    "drop": (bool, str),
    "times": int,
    "probability": (int, float),
    "seed": int,
    "headers": dict,
}
UNSENDABLE = frozenset({204, 304})  # answers without a body: a fault answer always has one
HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}")  # RFC 9110 token
HEADER_VALUE = re.compile(r"[\x20-\x7e]{0,4096}")
# What a real 429 carries (the OpenAPI document promises it): a client that reads Retry-After must not crash.
TOO_MANY_REQUESTS_HEADERS = {
    "Retry-After": "1",
    "X-RateLimit-Limit": "1",
    "X-RateLimit-Remaining": "0",
    "X-RateLimit-Reset": "1",
}


@dataclass
class FaultRule:
    id: str
    path: str | None = None
    method: str | None = None
    account: str | None = None
    status: int | None = None
    body: Any = None
    delay_ms: float = 0
    drop: str | None = None  # "before" (nothing stored) or "after" (stored, then no answer)
    times: int | None = None
    probability: float = 1.0
    seed: int | None = None
    headers: dict[str, str] | None = None
    fired: int = 0
    _random: random.Random = field(default_factory=random.Random, repr=False)

    def public(self) -> dict[str, Any]:
        shown = asdict(self)
        del shown["_random"]
        return shown

    def matches(self, path: str, method: str, account: str | None) -> bool:
        if self.path is not None and path not in (self.path, MASIVO_BASE_PATH + self.path):
            return False
        if self.method is not None and method.upper() != self.method.upper():
            return False
        return self.account is None or self.account == account

    def fire(self) -> bool:
        """Whether the rule fires for this (matching) request; counts it when it does."""
        if self.times is not None and self.fired >= self.times:
            return False
        if self.probability < 1 and self._random.random() >= self.probability:
            return False
        self.fired += 1
        return True


def parse_rule(rule_id: str, raw: Any) -> tuple[FaultRule | None, list[Violation]]:
    """A rule from a request body, or the violations that make it unusable."""
    if not isinstance(raw, dict):
        return None, [Violation("", "a fault rule must be a JSON object", "type")]
    raw = {name: _whole(value) if _FIELDS.get(name) is int else value for name, value in raw.items()}
    problems = [
        Violation(f"/{name}", "unknown member of a fault rule", "additionalProperties")
        for name in raw
        if name not in _FIELDS
    ]
    problems += [
        Violation(f"/{name}", f"must be {_type_name(kind)}", "type")
        for name, kind in _FIELDS.items()
        if name in raw and not _is(raw[name], kind)
    ]
    if problems:
        return None, problems
    problems = _range_problems(raw)
    if problems:
        return None, problems
    drop = raw.get("drop")
    rule = FaultRule(
        id=rule_id,
        path=raw.get("path"),
        method=raw.get("method"),
        account=raw.get("account"),
        status=raw.get("status"),
        body=raw.get("body"),
        delay_ms=raw.get("delay_ms", 0),
        drop="before" if drop is True else (drop or None),
        times=raw.get("times"),
        probability=raw.get("probability", 1.0),
        seed=raw.get("seed"),
        headers=raw.get("headers"),
    )
    rule._random = random.Random(rule.seed)
    return rule, []


def _range_problems(raw: dict[str, Any]) -> list[Violation]:
    checks: list[tuple[str, Callable[[Any], bool], str]] = [
        (
            "status",
            lambda v: 200 <= v <= 599 and v not in UNSENDABLE,
            "must be an HTTP status from 200 to 599 other than 204 and 304 (those cannot carry the answer's body; "
            "1xx are not answers)",
        ),
        ("delay_ms", lambda v: math.isfinite(v) and 0 <= v <= 600_000, "must be from 0 to 600000"),
        ("times", lambda v: v >= 1, "must be at least 1"),
        ("probability", lambda v: 0 <= v <= 1, "must be from 0 to 1"),
        ("drop", lambda v: v in (True, False, *DROP_MODES), 'must be true, "before" or "after"'),
    ]
    problems = [
        Violation(f"/{name}", message, "range") for name, ok, message in checks if name in raw and not ok(raw[name])
    ]
    if not any(raw.get(name) not in (None, False) for name in ("status", "delay_ms", "drop")):
        problems.append(
            Violation(
                "",
                "a fault rule needs at least one of status, delay_ms or drop (true, "
                '"before" or "after"): otherwise it does nothing',
                "required",
            )
        )
    problems += _never_fires(raw) + _header_problems(raw.get("headers"))
    return problems


def _never_fires(raw: dict[str, Any]) -> list[Violation]:
    """Rules that could never match a request are mistakes, not rules."""
    problems = [
        Violation(f"/{name}", "must not be empty: leave it out to match any", "minLength")
        for name in ("path", "method", "account")
        if raw.get(name) == ""
    ]
    path = raw.get("path") or ""
    if path.startswith("/_mock") or path == "/openapi.json":
        problems.append(
            Violation(
                "/path",
                "fault rules apply to the Masivo routes only (/auth/authorize, "
                "/customers/...), never to /_mock or /openapi.json",
                "enum",
            )
        )
    return problems


def _header_problems(headers: Any) -> list[Violation]:
    if headers is None:
        return []
    return [
        Violation(
            f"/headers/{name}", "must be a header name (RFC 9110 token) with a string value of printable ASCII", "type"
        )
        for name, value in headers.items()
        if not HEADER_NAME.fullmatch(name) or not isinstance(value, str) or not HEADER_VALUE.fullmatch(value)
    ]


def _whole(value: Any) -> Any:
    """280.0 is an integer to JSON Schema, so it is one here too."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _is(value: Any, kind: Any) -> bool:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if kind is object:
        return True
    if isinstance(value, bool):  # bool is an int to Python, not to JSON
        return bool in kinds
    return isinstance(value, kinds)


def _type_name(kind: Any) -> str:
    names = {str: "a string", int: "an integer", float: "a number", bool: "a boolean", dict: "an object"}
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(names[k] for k in kinds)


class FaultBook:
    """The active rules, in the order they were added; the first that matches and fires wins."""

    def __init__(self) -> None:
        self._rules: dict[str, FaultRule] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def __bool__(self) -> bool:
        """Whether any rule exists: without one, requests skip fault matching entirely."""
        return bool(self._rules)

    def new_id(self) -> str:
        return f"flt_{next(self._ids)}"

    def add(self, rule: FaultRule) -> None:
        with self._lock:
            self._rules[rule.id] = rule

    def rules(self) -> list[FaultRule]:
        with self._lock:
            return list(self._rules.values())

    def remove(self, rule_id: str | None = None) -> int:
        with self._lock:
            if rule_id is None:
                count = len(self._rules)
                self._rules.clear()
                return count
            return 1 if self._rules.pop(rule_id, None) is not None else 0

    def match(self, path: str, method: str, account: str | None) -> FaultRule | None:
        if not self._rules:
            return None
        with self._lock:
            for rule in self._rules.values():
                if rule.matches(path, method, account) and rule.fire():
                    return rule
        return None
