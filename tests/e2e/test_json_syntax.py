"""Strict JSON over real HTTP (reliability.md J1-J14): what is not plain JSON is a 400 and stores nothing.

DESIGN.md: a body that is not valid JSON (NaN and Infinity included) or not a JSON object is 400.
What is accepted must be stored and read back exactly, so a later GET never fails on it.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from conftest import MIGRATE, stored

EVENT = (
    '{"type":"PURCHASE","order":{"value":VALUE,"metadata":META},"fulfilled":true,'
    '"issued_at":"2023-11-07T05:31:56Z","resolved_at":"2023-11-07T05:31:56Z"}'
)
TEMPLATE = '{"customers":[{"id":ID,"events":[EVENT]}]}'.replace("EVENT", EVENT)


def payload(value: str = "10.5", meta: str = "{}", customer_id: str = '"c1"') -> bytes:
    """A valid body as bytes, with raw JSON text spliced in at order.value, order.metadata and the id."""
    return TEMPLATE.replace("VALUE", value).replace("META", meta).replace("ID", customer_id).encode()


VALID = payload()
DEEP = 100_000


def post(client: httpx.Client, content: bytes, token: str = "mock-token") -> httpx.Response:
    return client.post(
        MIGRATE, content=content, headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    )


REFUSED = [
    # J1 truncated
    pytest.param(b'{"customers": ', id="J1-truncated-after-colon"),
    pytest.param(VALID[:-1], id="J1-missing-last-brace"),
    pytest.param(VALID[: len(VALID) // 2], id="J1-cut-in-half"),
    # J2 empty
    pytest.param(b"", id="J2-empty-body"),
    pytest.param(b" \r\n\t ", id="J2-only-whitespace"),
    # J3 trailing data
    pytest.param(VALID + b" x", id="J3-trailing-garbage"),
    pytest.param(VALID + VALID, id="J3-two-documents"),
    pytest.param(VALID + b"\n" + VALID, id="J3-two-documents-on-two-lines"),
    pytest.param(VALID + b"\x00", id="J3-trailing-nul"),
    # J4, J5 non-finite numbers
    pytest.param(payload(value="NaN"), id="J4-nan"),
    pytest.param(payload(value="nan"), id="J4-lowercase-nan"),
    pytest.param(payload(value="Infinity"), id="J4-infinity"),
    pytest.param(payload(value="-Infinity"), id="J4-minus-infinity"),
    pytest.param(payload(meta='{"x":NaN}'), id="J4-nan-in-free-form-metadata"),
    pytest.param(payload(value="1e400"), id="J5-1e400"),
    pytest.param(payload(value="-1e400"), id="J5-minus-1e400"),
    pytest.param(payload(value="1.8e308"), id="J5-just-over-double-max"),
    # J6 huge integers
    pytest.param(payload(value="9" * 5000), id="J6-5000-digit-integer"),
    pytest.param(payload(meta='{"n":' + "1" * 5000 + "}"), id="J6-5000-digit-integer-in-metadata"),
    pytest.param(payload(value="18446744073709551616"), id="J6-integer-beyond-64-bits"),
    pytest.param(payload(value="-9223372036854775809"), id="J6-negative-integer-beyond-64-bits"),
    # J7 deep nesting
    pytest.param(b"[" * DEEP + b"]" * DEEP, id="J7-100000-deep-arrays"),
    pytest.param(b'{"a":' * DEEP + b"1" + b"}" * DEEP, id="J7-100000-deep-objects"),
    pytest.param(payload(meta='{"a":' * 300 + "1" + "}" * 300), id="J7-300-deep-metadata"),
    pytest.param(b"[" * DEEP, id="J7-100000-unclosed-arrays"),
    # J8 duplicate members
    pytest.param(b'{"customers":[],' + VALID[1:], id="J8-duplicate-top-level-member"),
    pytest.param(VALID.replace(b'"fulfilled":true', b'"fulfilled":true,"fulfilled":false'), id="J8-duplicate-in-event"),
    pytest.param(payload(meta='{"k":1,"k":1}'), id="J8-duplicate-in-metadata"),
    pytest.param(
        b'{"customers":[],' + VALID[1:].replace(b'"customers"', b'"\\u0063ustomers"', 1),
        id="J8-duplicate-spelled-with-an-escape",
    ),
    pytest.param(payload(meta='{"a\\u003ab":1,"a:b":2}'), id="J8-duplicate-with-escaped-colon"),
    # J9 invalid UTF-8
    pytest.param(VALID.replace(b'"c1"', b'"\xff"'), id="J9-byte-ff"),
    pytest.param(VALID.replace(b'"c1"', b'"c\xc3"'), id="J9-truncated-sequence"),
    pytest.param(VALID.replace(b'"c1"', b'"\xc0\xaf"'), id="J9-overlong-encoding"),
    pytest.param(VALID.replace(b'"c1"', b'"\xed\xa0\x80"'), id="J9-utf8-encoded-surrogate"),
    pytest.param(VALID.replace(b'"c1"', b'"\xf4\x90\x80\x80"'), id="J9-beyond-unicode"),
    # J10, J11 not UTF-8
    pytest.param(b"\xef\xbb\xbf" + VALID, id="J10-utf8-bom"),
    pytest.param(VALID.decode().encode("utf-16"), id="J11-utf-16-with-bom"),
    pytest.param(VALID.decode().encode("utf-16-le"), id="J11-utf-16-le"),
    pytest.param(VALID.decode().encode("utf-16-be"), id="J11-utf-16-be"),
    pytest.param(VALID.decode().encode("utf-32"), id="J11-utf-32"),
    # J12 lone surrogates
    pytest.param(payload(customer_id='"\\ud800"'), id="J12-lone-high-surrogate"),
    pytest.param(payload(customer_id='"\\udc00"'), id="J12-lone-low-surrogate"),
    pytest.param(payload(customer_id='"\\ud800\\u0041"'), id="J12-high-surrogate-then-letter"),
    pytest.param(payload(meta='{"\\ud800":1}'), id="J12-lone-surrogate-in-a-key"),
    # J13 not an object
    pytest.param(b"[]", id="J13-empty-array"),
    pytest.param(b"[" + VALID + b"]", id="J13-array-of-a-valid-body"),
    pytest.param(b'"customers"', id="J13-string"),
    pytest.param(b"1", id="J13-number"),
    pytest.param(b"null", id="J13-null"),
    pytest.param(b"true", id="J13-true"),
    # Other syntax JSON does not allow
    pytest.param(VALID.replace(b'"', b"'"), id="single-quotes"),
    pytest.param(VALID.replace(b"]}]}", b"],}],}"), id="trailing-commas"),
    pytest.param(b"// comment\n" + VALID, id="line-comment"),
    pytest.param(VALID.replace(b"{", b"/* c */{", 1), id="block-comment"),
    pytest.param(VALID.replace(b'"customers"', b"customers"), id="unquoted-key"),
    pytest.param(payload(value="010"), id="leading-zero"),
    pytest.param(payload(value="0x10"), id="hex-number"),
    pytest.param(payload(value="+1"), id="plus-sign"),
    pytest.param(payload(value=".5"), id="no-digit-before-point"),
    pytest.param(payload(value="1."), id="no-digit-after-point"),
    pytest.param(VALID.replace(b"true", b"True"), id="capitalised-true"),
    pytest.param(payload(value="undefined"), id="undefined"),
    pytest.param(payload(customer_id='"a\tb"'), id="raw-tab-in-string"),
    pytest.param(payload(customer_id='"a\nb"'), id="raw-newline-in-string"),
    pytest.param(payload(customer_id='"a\\xb"'), id="invalid-escape"),
    pytest.param(payload(customer_id='"\\u12"'), id="short-unicode-escape"),
]


@pytest.mark.parametrize("content", REFUSED)
def test_migrate_events_refuses_body_that_is_not_a_plain_json_object(api: httpx.Client, content: bytes) -> None:
    before = stored(api)
    response = post(api, content)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/json"
    answer = response.json()
    assert set(answer) == {"error", "details"}
    assert answer["error"] == "Invalid JSON"
    assert isinstance(answer["details"], str) and 0 < len(answer["details"]) <= 300
    assert stored(api) == before


@pytest.mark.parametrize(
    ("content", "kind"),
    [
        (b"[]", "array"),
        (b'"x"', "string"),
        (b"1.5", "number"),
        (b"null", "null"),
        (b"false", "boolean"),
    ],
)
def test_non_object_body_is_named_in_the_details(api: httpx.Client, content: bytes, kind: str) -> None:
    response = post(api, content)
    assert response.status_code == 400
    assert "JSON object" in response.json()["details"]
    assert kind in response.json()["details"]


def test_details_never_echo_a_huge_number(api: httpx.Client) -> None:
    details = post(api, payload(value="7" * 5000)).json()["details"]
    assert "7" * 40 not in details


ACCEPTED = [
    # (raw JSON of the id, the id it stands for, raw JSON of metadata, the metadata it stands for)
    pytest.param('"a\\u0000b"', "a\x00b", '{"s":"\\u0000"}', {"s": "\x00"}, id="J14-nul-escape"),
    pytest.param('"\\ud83d\\ude00"', "\U0001f600", "{}", {}, id="surrogate-pair"),
    pytest.param('"caf\\u00e9"', "café", '{"k\\u00e9":1}', {"ké": 1}, id="unicode-escapes"),
    pytest.param('"caf\u00e9 \u6f22"', "café 漢", "{}", {}, id="raw-utf8"),
    pytest.param('"a\\/b\\"c\\\\"', 'a/b"c\\', "{}", {}, id="escaped-solidus-quote-backslash"),
    pytest.param(
        '"c1"',
        "c1",
        '{"big":18446744073709551615,"neg":-9223372036854775808}',
        {"big": 2**64 - 1, "neg": -(2**63)},
        id="64-bit-integer-bounds",
    ),
    pytest.param('"c1"', "c1", '{"a":' * 200 + "1" + "}" * 200, None, id="200-deep-metadata"),
]


@pytest.mark.parametrize(("raw_id", "customer_id", "raw_meta", "meta"), ACCEPTED)
def test_accepted_json_is_read_back_exactly(
    api: httpx.Client, account: dict[str, str], raw_id: str, customer_id: str, raw_meta: str, meta: Any
) -> None:
    content = payload(meta=raw_meta, customer_id=raw_id)
    assert post(api, content, account["token"]).status_code == 201
    [event] = api.get("/_mock/events", params={"account": account["id"]}).json()["data"]
    assert event["customer_id"] == customer_id
    assert event["event"]["order"]["metadata"] == (json.loads(raw_meta) if meta is None else meta)
    assert api.get(f"/_mock/events/{event['id']}").json()["data"] == event


def test_whitespace_around_and_inside_the_body_is_accepted(api: httpx.Client, account: dict[str, str]) -> None:
    spaced = b" \r\n\t" + VALID.replace(b",", b" ,\n\t").replace(b'":', b'" : ') + b"\n\n"
    assert post(api, spaced, account["token"]).status_code == 201
    assert stored(api, account["id"]) == 1
