"""The fast path: a msgspec decoder compiled from a kind's JSON Schema at start-up, which accepts in
one pass the bodies it can prove valid and leaves every other body to the full validator.

It may only say "valid" where parsing.py and validation.py would accept with no warning; where it
is unsure it says nothing, and the full path decides and explains. What it proves:
- the closed schema (validation.closed_schema): types, required members, lengths, item counts,
  enums, and the date-time and email formats through patterns that accept a subset of what the full
  validator accepts (tests/property/test_fastpath_properties.py checks that they are a subset);
- no duplicate member names, which msgspec drops silently (the last one wins): re-encoding what it
  decoded must give as many colons as the body has (parsing.py explains why colons are enough);
- no integer beyond 64 bits, which msgspec would keep and the full path refuses: integers are typed
  to int64's range (the full path also takes uint64's; those few take it);
- no nesting past parsing.MAX_DEPTH: free-form objects are typed to FREE_FORM_LEVELS levels;
- the kind's batch rules.
A differential property test (tests/property/test_fastpath_properties.py) holds it to the full
path's verdict.
"""

from __future__ import annotations

import keyword
from functools import cache
from typing import Annotated, Any, Literal

import msgspec
import orjson

from ..domain.kinds import EVENT, Kind, decoded_attributes
from ..domain.layout import split_records
from .parsing import MAX_DEPTH
from .schemas import load_schema
from .validation import closed_schema

# Free-form objects (`{"type": "object"}`) are typed this many levels deep; deeper ones take the full path.
# Each level costs msgspec about 4.5 times the last to build at start-up: 8 levels took 40 ms, 6 take 3.
FREE_FORM_LEVELS = 6
# Patterns for the formats, each accepting a subset of what the full validator (jsonschema-rs) accepts.
# [0-9], not \d: Python's \d matches every script's digits. \Z, not $: $ also matches before a newline.
_DATE = (
    r"[0-9]{4}-(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])|(?:0[13-9]|1[0-2])-(?:29|30)|(?:0[13578]|1[02])-31)"
    r"|(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:[02468][048]|[13579][26])00)-02-29"
)
_TIME = r"(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]+)?(?:[Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
FORMAT_PATTERNS = {
    "date-time": rf"^(?:{_DATE})[Tt]{_TIME}\Z",
    "email": rf"^(?=[^@]{{1,64}}@){_ATOM}(?:\.{_ATOM})*@(?=[A-Za-z0-9.-]{{1,253}}\Z){_LABEL}(?:\.{_LABEL})*\Z",
}
# JSON numbers: integers within int64 (msgspec keeps bigger ones exact, which the store cannot), or doubles.
NUMBER = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)] | float
_ESCAPED_COLONS = (b"\\u003a", b"\\u003A")  # colons the colon count cannot see
_IGNORED = {"$schema", "$id", "$defs", "title", "description"}


class UnsupportedSchema(ValueError):
    """The schema uses something the fast path does not compile; that kind takes the full path only."""


class FastPath:
    """accept(raw) -> what check_batch returns for a valid body, or None when the full path must decide."""

    def __init__(self, kind: Kind) -> None:
        self.kind = kind
        self._decoder = _decoder(kind.schema)
        self._encoder = msgspec.json.Encoder()

    def accept(self, raw: bytes) -> tuple[list[tuple[str, list[bytes]]], list[list[Any]]] | None:
        """The records' bytes by customer and their attributes (checker.CheckedBatch), or None."""
        if b"\\" in raw and any(escape in raw for escape in _ESCAPED_COLONS):
            return None
        try:
            value = self._decoder.decode(raw)
        except (msgspec.ValidationError, msgspec.DecodeError):
            return None
        if self._encoder.encode(value).count(b":") != raw.count(b":"):
            return None  # a member was dropped: a duplicate name
        customers = value.customers
        if self.kind.batch_rules({"customers": [msgspec.structs.asdict(customer) for customer in customers]}):
            return None
        records = split_records(self.kind, raw)
        encoded = [(customer.id, mine) for customer, mine in zip(customers, records, strict=True)]
        if self.kind is EVENT:
            return encoded, decoded_attributes(customers)
        return encoded, [[orjson.loads(record) for record in mine] for mine in records]


@cache  # once per process: compiling takes about 8 ms a kind, and a test session starts many servers
def _decoder(schema_name: str) -> msgspec.json.Decoder[Any]:
    # msgspec decodes holding the GIL throughout, so servers in threads of one process can share it.
    return msgspec.json.Decoder(compile_schema(closed_schema(load_schema(schema_name))))


def compile_schema(schema: dict[str, Any]) -> Any:
    """The msgspec type that decodes exactly the instances of `schema` (a subset of JSON Schema:
    type, properties, required, additionalProperties false, items, min/maxItems, min/maxLength,
    enum of strings, formats in FORMAT_PATTERNS, and $ref into $defs); UnsupportedSchema otherwise."""
    return _Compiler(schema.get("$defs", {})).convert(schema, "#", 0)


class _Compiler:
    def __init__(self, defs: dict[str, Any]) -> None:
        self._defs = defs
        self._done: dict[str, Any] = {}

    def convert(self, node: dict[str, Any], where: str, depth: int) -> Any:
        if depth >= MAX_DEPTH:
            raise UnsupportedSchema(f"{where}: nested {MAX_DEPTH} levels deep (a recursive schema?)")
        if "$ref" in node:
            return self._reference(node, where, depth)
        shape = "enum" if "enum" in node else node.get("type")
        if not isinstance(shape, str) or shape not in _KEYWORDS:
            raise UnsupportedSchema(f"{where}: type {shape!r}")
        unknown = set(node) - _IGNORED - _KEYWORDS[shape]
        if unknown:
            raise UnsupportedSchema(f"{where}: keyword {sorted(unknown)[0]!r}")
        if shape == "array" and "items" not in node:
            raise UnsupportedSchema(f"{where}: an array without items")
        if "enum" in node:
            return self._enum(node, where)
        match node.get("type"):
            case "string":
                return _string(node, where)
            case "number":
                return NUMBER
            case "boolean":
                return bool
            case "array":
                return Annotated[list[self.convert(node["items"], f"{where}/items", depth + 1)], _sized(node)]  # type: ignore[misc]
            case "object" if "properties" in node:
                return self._struct(node, where, depth)
            case "object":
                if depth + FREE_FORM_LEVELS >= MAX_DEPTH:
                    raise UnsupportedSchema(f"{where}: a free-form object this deep")
                return _free_form(FREE_FORM_LEVELS)
        raise AssertionError(f"{where}: a type in _KEYWORDS that convert() does not handle")

    def _reference(self, node: dict[str, Any], where: str, depth: int) -> Any:
        name = node["$ref"].removeprefix("#/$defs/")
        if len(node) != 1 or name not in self._defs:
            raise UnsupportedSchema(f"{where}: $ref {node['$ref']!r}")
        # Depth matters only for free-form objects; a definition reached deeper is compiled again.
        key = f"{name}@{depth}"
        if key not in self._done:
            self._done[key] = self.convert(self._defs[name], f"#/$defs/{name}", depth)
        return self._done[key]

    def _enum(self, node: dict[str, Any], where: str) -> Any:
        options = node["enum"]
        if node.get("type", "string") != "string" or not options or not all(isinstance(o, str) for o in options):
            raise UnsupportedSchema(f"{where}: an enum of anything but strings")
        return Literal[tuple(options)]

    def _struct(self, node: dict[str, Any], where: str, depth: int) -> type[msgspec.Struct]:
        if node.get("additionalProperties", False) is not False:
            raise UnsupportedSchema(f"{where}: additionalProperties other than false")
        required = set(node.get("required", ()))
        if not required <= set(node["properties"]):
            raise UnsupportedSchema(f"{where}: a required member with no schema")
        fields = []
        for name, child in node["properties"].items():
            member_type = self.convert(child, f"{where}/properties/{name}", depth + 1)
            default = msgspec.NODEFAULT if name in required else msgspec.UNSET
            fields.append((_attribute(name), member_type, msgspec.field(default=default, name=name)))
        title = node.get("title") or where.rsplit("/", 1)[-1] or "Body"
        return msgspec.defstruct(
            title, fields, kw_only=True, forbid_unknown_fields=True, omit_defaults=True, gc=False, module=__name__
        )


_KEYWORDS: dict[str, set[str]] = {
    "string": {"type", "minLength", "maxLength", "format"},
    "number": {"type"},
    "boolean": {"type"},
    "array": {"type", "items", "minItems", "maxItems"},
    "object": {"type", "properties", "required", "additionalProperties"},
    "enum": {"type", "enum"},
}


def _string(node: dict[str, Any], where: str) -> Any:
    pattern = None
    if "format" in node:
        pattern = FORMAT_PATTERNS.get(node["format"])
        if pattern is None:
            raise UnsupportedSchema(f"{where}: format {node['format']!r}")
    meta = msgspec.Meta(min_length=node.get("minLength"), max_length=node.get("maxLength"), pattern=pattern)
    return Annotated[str, meta]


def _sized(node: dict[str, Any]) -> msgspec.Meta:
    return msgspec.Meta(min_length=node.get("minItems"), max_length=node.get("maxItems"))


def _free_form(levels: int) -> Any:
    """Any JSON object nested at most `levels` deep (msgspec itself would go as deep as the body does)."""
    value: Any = NUMBER | str | bool | None
    for _ in range(levels - 1):
        value = NUMBER | str | bool | None | list[value] | dict[str, value]
    return dict[str, value]


def _attribute(name: str) -> str:
    """A Python attribute name for a member (the member keeps its own name in JSON)."""
    return name if name.isidentifier() and not keyword.iskeyword(name) else "m_" + name.encode().hex()
