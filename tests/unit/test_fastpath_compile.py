"""What the fast path's schema compiler refuses: anything it cannot prove it decodes exactly. A kind
whose schema it refuses takes the full path only (fast_paths() logs it and gives None)."""

from __future__ import annotations

import re
from typing import Any

import msgspec
import pytest

from mock_masivo.domain.kinds import KINDS
from mock_masivo.ingest import checker
from mock_masivo.ingest.fastpath import FastPath, UnsupportedSchema, compile_schema


def test_every_shipped_schema_compiles() -> None:
    assert set(checker.fast_paths()) == set(KINDS)
    assert all(compiled is not None for compiled in checker.fast_paths().values())


RECURSIVE = {"type": "array", "items": {"$ref": "#/$defs/Node"}}


@pytest.mark.parametrize(
    "schema, where",
    [
        ({"type": "integer"}, "#: type 'integer'"),
        ({"type": ["string", "null"]}, "#: type ['string', 'null']"),
        ({"type": "string", "pattern": "^a"}, "#: keyword 'pattern'"),
        ({"type": "string", "format": "uri"}, "#: format 'uri'"),
        ({"type": "number", "minimum": 0}, "#: keyword 'minimum'"),
        ({"enum": [1, 2]}, "#: an enum of anything but strings"),
        ({"type": "array"}, "#: an array without items"),
        ({"type": "object", "properties": {}, "additionalProperties": True}, "#: additionalProperties other than"),
        ({"type": "object", "properties": {}, "required": ["a"]}, "#: a required member with no schema"),
        ({"$ref": "#/$defs/Missing"}, "#: $ref '#/$defs/Missing'"),
        (
            {"type": "array", "items": {"$ref": "#/$defs/Node"}, "$defs": {"Node": RECURSIVE}},
            "nested 254 levels deep (a recursive schema?)",
        ),
    ],
)
def test_what_the_compiler_cannot_prove_is_refused_with_where(schema: dict[str, Any], where: str) -> None:
    with pytest.raises(UnsupportedSchema, match=re.escape(where)):
        compile_schema(schema)


def test_a_compiled_object_is_closed_and_keeps_member_names_that_are_not_identifiers() -> None:
    schema = {
        "type": "object",
        "required": ["from"],
        "properties": {"from": {"type": "string"}, "a-b": {"enum": ["X"]}},
    }
    decoder = msgspec.json.Decoder(compile_schema(schema))
    decoded = decoder.decode(b'{"a-b":"X","from":"x"}')
    assert msgspec.json.encode(decoded) == b'{"from":"x","a-b":"X"}'
    for refused in (b'{"a-b":"X"}', b'{"from":"x","c":1}', b'{"from":"x","a-b":"Y"}'):
        with pytest.raises(msgspec.ValidationError):
            decoder.decode(refused)


def test_a_kind_whose_schema_does_not_compile_takes_the_full_path(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    real = FastPath

    def picky(kind: Any) -> Any:
        if kind.name == "profile":
            raise UnsupportedSchema("#/$defs/Email: format 'idn-email'")
        return real(kind)

    monkeypatch.setattr(checker, "FastPath", picky)
    compiled = checker.fast_paths()
    assert compiled["profile"] is None and compiled["event"] is not None
    assert "profiles bodies take the full validator only: their schema has #/$defs/Email" in caplog.text
