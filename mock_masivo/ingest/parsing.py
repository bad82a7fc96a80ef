"""Strict JSON parsing for the full path (checker.py; fastpath.py runs first): what is accepted can
be stored and read back unchanged, and nothing else is.

orjson parses first; it already refuses NaN/Infinity, numbers that overflow a double,
invalid UTF-8, a BOM, lone surrogates and trailing data. It does not refuse duplicate keys (the
last one silently wins) and it turns integers beyond 64 bits into floats. Both would alter what was
sent, so:
- duplicate keys are detected by counting colons: with no `\\u003a` escape in the body, every colon
  is either a member separator or inside a string, orjson never escapes colons, and so re-encoding
  the parsed value yields exactly as many colons as the body had unless members were dropped;
- an integer turned into a float loses its run of digits: every run of 19 or more digits in the
  body must reappear in the re-encoding;
- when either check fails, or the body has a `\\u003a` escape, the stdlib parser (with hooks that
  name the offending key or number) parses it again and decides.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Any

import orjson

from ..errors import BadRequest

MAX_DEPTH = 254  # orjson cannot encode deeper values, so they could never be read back
# Digits masked to one symbol: 19 of them in a row (as in 2**63) can be an integer orjson turned into a float.
_DIGIT_MASK = bytes.maketrans(b"123456789", b"000000000")
_LONG_DIGITS = b"0" * 19
_LONG_DIGIT_RUN = re.compile(rb"\d{19,}")
_ESCAPED_COLONS = (b"\\u003a", b"\\u003A")  # colons the colon count cannot see


def parse_object(raw: bytes) -> dict[str, Any]:
    """The body as a JSON object, or BadRequest saying what is wrong and where."""
    value, _ = parse_json(raw)
    if not isinstance(value, dict):
        raise BadRequest(f"the body must be a JSON object, got {_json_type(value)}")
    return value


def parse_json(raw: bytes) -> tuple[Any, bytes]:
    """Any JSON value plus its compact re-encoding (which proves it can be stored and read back)."""
    value = _orjson_parse(raw)
    if value is _CAREFUL:
        return _parse_careful(raw)
    encoded = _encode(value)
    if raw.count(b":") != encoded.count(b":") or not _same_long_numbers(raw, lambda: [encoded]):
        return _parse_careful(raw)  # members were dropped or a number altered: let the slow path say which
    return value, encoded


_CAREFUL = object()


def _orjson_parse(raw: bytes) -> Any:
    """orjson's verdict, or _CAREFUL when only the stdlib parser can tell exactly what the body holds."""
    if b"\\" in raw and any(escape in raw for escape in _ESCAPED_COLONS):  # one memchr for most bodies
        return _CAREFUL
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}") from None


def _same_long_numbers(raw: bytes, encoded: Callable[[], list[bytes]]) -> bool:
    """False when a run of 19+ digits did not survive re-encoding: an integer past 64 bits became a float.

    `encoded` gives the re-encoded pieces; it is called only when the body has such a run at all."""
    if _LONG_DIGITS not in raw.translate(_DIGIT_MASK):
        return True
    survived = [run for piece in encoded() for run in _LONG_DIGIT_RUN.findall(piece)]
    return sorted(_LONG_DIGIT_RUN.findall(raw)) == sorted(survived)


def _parse_careful(raw: bytes) -> tuple[Any, bytes]:
    try:
        text = raw.decode("utf-8")  # strict: a BOM survives and json.loads refuses it below
        value = json.loads(
            text, parse_constant=_refuse_constant, parse_float=_finite_float, object_pairs_hook=_unique_members
        )
    except UnicodeDecodeError as exc:
        raise BadRequest(f"the body is not valid UTF-8: byte {exc.start} cannot be decoded") from None
    except RecursionError:
        raise BadRequest(f"the body is nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:  # JSONDecodeError, our hooks, and the int-string digit limit
        raise BadRequest(f"the body is not valid JSON: {exc}") from None
    return value, _encode(value)


def _encode(value: Any) -> bytes:
    try:
        return orjson.dumps(value)
    except orjson.JSONEncodeError as exc:
        reason = str(exc)
        if "Recursion" in reason:
            raise BadRequest(f"the body is nested deeper than {MAX_DEPTH} levels") from None
        if "64-bit" in reason:
            raise BadRequest("the body has an integer beyond 64 bits, which cannot be stored exactly") from None
        raise BadRequest(f"the body cannot be stored as sent: {reason}") from None


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:32]} is too large for a double")
    return value


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    members: dict[str, Any] = {}
    for key, value in pairs:
        if key in members:
            raise ValueError(f"duplicate member {key[:64]!r} in an object")
        members[key] = value
    return members


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array"
