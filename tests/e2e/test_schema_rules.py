"""Schema violations over real HTTP (reliability.md S1-S13, R6, R7): 422 naming each violation, nothing stored.

Every 422 lists its violations as {"path": JSON Pointer, "message", "rule": the JSON Schema keyword};
a missing member points at the object that lacks it, and the message names the member.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from conftest import MIGRATE, post_events, stored
from payloads import REMOVE, body, with_change

from mock_masivo import MockMasivoServer
from mock_masivo.config import Settings

EVENT = "/customers/0/events/0"
ORDER = EVENT + "/order"
LONG = "x" * 1025
WITH_PRODUCT = with_change(body(), ORDER + "/products", [{"sku": "s", "amount": 1, "redeem": [{"id": "r"}]}])


@pytest.fixture(scope="module")
def strict_api() -> Iterator[httpx.Client]:
    with (
        MockMasivoServer(Settings(memory=True, port=0, log_level="warning", strict=True)) as server,
        httpx.Client(base_url=server.url, timeout=30) as client,
    ):
        yield client


def post(client: httpx.Client, payload: Any, token: str = "mock-token") -> httpx.Response:
    return client.post(
        MIGRATE,
        content=json.dumps(payload).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )


def violations(response: httpx.Response) -> list[dict[str, str]]:
    """The 422's violations, after checking the shape of the whole error body."""
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/json"
    answer = response.json()
    assert set(answer) <= {"error", "details", "errors", "truncated"}
    assert answer["error"] == "Invalid customer entry"
    assert isinstance(answer["details"], str) and answer["details"]
    for violation in answer["errors"]:
        assert set(violation) == {"path", "message", "rule"}
        assert violation["path"] == "" or violation["path"].startswith("/")
        assert 0 < len(violation["message"]) <= 200
    found: list[dict[str, str]] = answer["errors"]
    return found


def where(response: httpx.Response) -> list[tuple[str, str]]:
    return [(violation["path"], violation["rule"]) for violation in violations(response)]


def case(pointer: str, value: Any, *expected: tuple[str, str], base: Any = None, id: str) -> Any:
    return pytest.param(with_change(base or body(), pointer, value), list(expected), id=id)


SCHEMA_CASES = [
    # S1, S2: customers
    case("/customers", REMOVE, ("", "required"), id="S1-customers-missing"),
    case("/customers", {"id": "c"}, ("/customers", "type"), id="S2-customers-object"),
    case("/customers", "c0", ("/customers", "type"), id="S2-customers-string"),
    case("/customers", None, ("/customers", "type"), id="S2-customers-null"),
    # S3: customer id and events
    case("/customers/0/id", REMOVE, ("/customers/0", "required"), id="S3-customer-without-id"),
    case("/customers/0/id", "", ("/customers/0/id", "minLength"), id="S3-customer-with-empty-id"),
    case("/customers/0/events", REMOVE, ("/customers/0", "required"), id="S3-customer-without-events"),
    # event's required members
    *[
        case(f"{EVENT}/{name}", REMOVE, (EVENT, "required"), id=f"event-without-{name}")
        for name in ("type", "order", "fulfilled", "issued_at", "resolved_at")
    ],
    case(f"{EVENT}/type", "", (f"{EVENT}/type", "minLength"), id="event-with-empty-type"),
    # S4: maxLength
    case("/customers/0/id", LONG, ("/customers/0/id", "maxLength"), id="S4-customer-id-over-1024"),
    case(f"{EVENT}/type", LONG, (f"{EVENT}/type", "maxLength"), id="S4-event-type-over-1024"),
    case(f"{EVENT}/channel_id", LONG, (f"{EVENT}/channel_id", "maxLength"), id="S4-channel-id-over-1024"),
    case(f"{ORDER}/purchase_id", LONG, (f"{ORDER}/purchase_id", "maxLength"), id="S4-purchase-id-over-1024"),
    case(
        f"{ORDER}/products/0/sku",
        LONG,
        (f"{ORDER}/products/0/sku", "maxLength"),
        base=WITH_PRODUCT,
        id="S4-product-sku-over-1024",
    ),
    case(
        f"{EVENT}/issued_at",
        "2023-11-07T05:31:56." + "1" * 60 + "Z",
        (f"{EVENT}/issued_at", "maxLength"),
        id="S4-date-time-over-64",
    ),
    # S5: null where a value is required
    *[
        case(pointer, None, (pointer, "type"), id=f"S5-null-{pointer.rsplit('/', 1)[1]}")
        for pointer in (
            "/customers/0/id",
            "/customers/0/events",
            f"{EVENT}/type",
            ORDER,
            f"{EVENT}/fulfilled",
            f"{EVENT}/issued_at",
            f"{ORDER}/value",
        )
    ],
    # S6: wrong scalar types
    case(f"{ORDER}/value", True, (f"{ORDER}/value", "type"), id="S6-true-for-a-number"),
    case(f"{ORDER}/value", "10.5", (f"{ORDER}/value", "type"), id="S6-string-for-a-number"),
    case(f"{EVENT}/fulfilled", "true", (f"{EVENT}/fulfilled", "type"), id="S6-string-for-a-boolean"),
    case(f"{EVENT}/fulfilled", 1, (f"{EVENT}/fulfilled", "type"), id="S6-number-for-a-boolean"),
    case("/customers/0/id", 123, ("/customers/0/id", "type"), id="S6-number-for-an-id"),
    case(
        f"{ORDER}/products/0/amount",
        "2",
        (f"{ORDER}/products/0/amount", "type"),
        base=WITH_PRODUCT,
        id="S6-string-for-product-amount",
    ),
    case(
        f"{ORDER}/products/0/redeem/0/id",
        7,
        (f"{ORDER}/products/0/redeem/0/id", "type"),
        base=WITH_PRODUCT,
        id="S6-number-for-redeem-id",
    ),
    case(f"{ORDER}/metadata", [], (f"{ORDER}/metadata", "type"), id="free-form-metadata-must-be-an-object"),
    case(f"{ORDER}/shipping", [], (f"{ORDER}/shipping", "type"), id="shipping-must-be-an-object"),
    case(f"{ORDER}/products", {}, (f"{ORDER}/products", "type"), id="products-must-be-an-array"),
    # S9: date-time format
    *[
        case(f"{EVENT}/issued_at", text, (f"{EVENT}/issued_at", "format"), id=f"S9-issued-at-{name}")
        for name, text in [
            ("month-13", "2023-13-07T05:31:56Z"),
            ("february-30", "2023-02-30T00:00:00Z"),
            ("words", "yesterday"),
            ("date-only", "2023-11-07"),
            ("no-offset", "2023-11-07T05:31:56"),
            ("hour-24", "2023-11-07T24:00:00Z"),
            ("empty", ""),
            ("unix-seconds", "1699335116"),
        ]
    ],
    case(f"{EVENT}/resolved_at", "07/11/2023", (f"{EVENT}/resolved_at", "format"), id="S9-resolved-at-us-date"),
    # S10: enum
    *[
        case(f"{ORDER}/payment_method", text, (f"{ORDER}/payment_method", "enum"), id=f"S10-payment-method-{text!r}")
        for text in ("credit", "Credit", "PAYPAL", "")
    ],
    # S11: array items of the wrong type
    case("/customers/0/events", ["x"], (EVENT, "type"), id="S11-event-is-a-string"),
    case("/customers/0/events", [None], (EVENT, "type"), id="S11-event-is-null"),
    case("/customers", [1], ("/customers/0", "type"), id="S11-customer-is-a-number"),
    case("/customers", [[]], ("/customers/0", "type"), id="S11-customer-is-an-array"),
    case(f"{ORDER}/products", ["x"], (f"{ORDER}/products/0", "type"), id="S11-product-is-a-string"),
    case(f"{ORDER}/redeem", [1], (f"{ORDER}/redeem/0", "type"), id="S11-redeem-is-a-number"),
]


@pytest.mark.parametrize(("payload", "expected"), SCHEMA_CASES)
def test_schema_violation_is_422_at_its_json_pointer(
    api: httpx.Client, payload: Any, expected: list[tuple[str, str]]
) -> None:
    before = stored(api)
    assert where(post(api, payload)) == expected
    assert stored(api) == before


@pytest.mark.parametrize("name", ["type", "order", "fulfilled", "issued_at", "resolved_at"])
def test_missing_member_is_named_in_the_message(api: httpx.Client, name: str) -> None:
    [violation] = violations(post(api, with_change(body(), f"{EVENT}/{name}", REMOVE)))
    assert repr(name) in violation["message"]


def test_every_violation_is_listed_in_pointer_order(api: httpx.Client) -> None:
    payload = body(customers=11)
    for pointer, value in [
        ("/customers/10/id", ""),
        ("/customers/3/events/0/issued_at", "soon"),
        ("/customers/9/id", ""),
        ("/customers/3/events/0/fulfilled", "yes"),
    ]:
        payload = with_change(payload, pointer, value)
    response = post(api, payload)
    assert where(response) == [
        ("/customers/3/events/0/fulfilled", "type"),
        ("/customers/3/events/0/issued_at", "format"),
        ("/customers/9/id", "minLength"),
        ("/customers/10/id", "minLength"),
    ]
    assert "truncated" not in response.json()
    assert "/customers/3/events/0/fulfilled" in response.json()["details"]


# --- S8: unknown members ---------------------------------------------------------------------------

UNKNOWN_MEMBERS = [
    pytest.param("/source", "/source", id="top-level"),
    pytest.param("/customers/0/name", "/customers/0/name", id="customer"),
    pytest.param(f"{EVENT}/points", f"{EVENT}/points", id="event"),
    pytest.param(f"{ORDER}/currency", f"{ORDER}/currency", id="order"),
    pytest.param("/customers/0/a/b~c", "/customers/0/a~1b~0c", id="name-escaped-in-the-pointer"),
    pytest.param("/customers/0/\u00b2", "/customers/0/\u00b2", id="name-that-is-a-unicode-digit"),
    # Pointers cut long member names (MAX_POINTER_SEGMENT) so answers and the journal stay small.
    pytest.param("/customers/0/" + "9" * 5000, "/customers/0/" + "9" * 256 + "...", id="name-of-5000-digits"),
]


def add_member(pointer: str) -> dict[str, Any]:
    """A valid body plus a member named by the pointer's last part (which may contain '/' and '~')."""
    parent = "/customers/0" if pointer.startswith("/customers/0/a/") else pointer.rsplit("/", 1)[0]
    name = pointer[len(parent) + 1 :]
    payload = body()
    target: Any = payload
    for part in filter(None, parent.split("/")):
        target = target[int(part)] if isinstance(target, list) else target[part]
    target[name] = "extra"
    return payload


@pytest.mark.parametrize(("member", "path"), UNKNOWN_MEMBERS)
def test_unknown_member_is_stored_and_reported_as_a_warning(
    api: httpx.Client, account: dict[str, str], member: str, path: str
) -> None:
    assert post(api, add_member(member), account["token"]).status_code == 201
    assert stored(api, account["id"]) == 1
    [entry] = api.get("/_mock/requests", params={"account": account["id"]}).json()["data"]
    assert [(warning["path"], warning["rule"]) for warning in entry["warnings"]] == [(path, "additionalProperties")]


@pytest.mark.parametrize(("member", "path"), UNKNOWN_MEMBERS)
def test_strict_mode_refuses_unknown_member(strict_api: httpx.Client, member: str, path: str) -> None:
    before = stored(strict_api)
    response = post(strict_api, add_member(member))
    assert where(response) == [(path, "additionalProperties")]
    assert "unknown member" in violations(response)[0]["message"]
    assert len(response.json()["details"]) <= 400
    assert stored(strict_api) == before


@pytest.mark.parametrize("pointer", [f"{ORDER}/metadata", f"{ORDER}/products/0/tags", f"{ORDER}/shipping/metadata"])
def test_strict_mode_accepts_any_member_of_free_form_objects(strict_api: httpx.Client, pointer: str) -> None:
    payload = with_change(with_change(WITH_PRODUCT, f"{ORDER}/shipping", {"value": 1}), pointer, {"any": {"x": [1]}})
    before = stored(strict_api)
    assert post(strict_api, payload).status_code == 201
    assert stored(strict_api) == before + 1


# --- leniency where the docs are silent (DESIGN.md) -------------------------------------------------

LENIENT = [
    pytest.param(ORDER, {}, id="empty-order"),
    pytest.param(f"{ORDER}/products", [], id="empty-products"),
    pytest.param(f"{ORDER}/redeem", [], id="empty-redeem"),
    pytest.param(ORDER, {"products": [{}], "shipping": {}, "redeem": [{}]}, id="empty-product-shipping-redeem"),
    pytest.param("/customers/0/id", "x" * 1024, id="id-of-exactly-1024"),
    pytest.param(f"{EVENT}/type", "CUSTOM_EVENT", id="any-event-type"),
    pytest.param(f"{ORDER}/value", -1, id="negative-value"),
    pytest.param(f"{ORDER}/value", 1.0, id="float-value"),
    pytest.param(f"{EVENT}/issued_at", "2023-11-07T05:31:56.123+05:30", id="date-time-with-offset"),
    pytest.param(f"{EVENT}/issued_at", "2016-12-31T23:59:60Z", id="date-time-leap-second"),
]


@pytest.mark.parametrize(("pointer", "value"), LENIENT)
def test_documented_leniency_is_accepted(api: httpx.Client, account: dict[str, str], pointer: str, value: Any) -> None:
    payload = with_change(body(), pointer, value)
    assert post(api, payload, account["token"]).status_code == 201
    [event] = api.get("/_mock/events", params={"account": account["id"]}).json()["data"]
    assert event["event"] == payload["customers"][0]["events"][0]


# --- S13, R6, R7: big and many violations stay small --------------------------------------------------


def test_s13_thousands_of_violations_are_capped_at_100(api: httpx.Client) -> None:
    payload = body(customers=1000)
    for customer in payload["customers"]:
        customer["id"] = ""
        customer["events"][0]["issued_at"] = "never"
        customer["events"][0]["fulfilled"] = "no"
    before = stored(api)
    response = post(api, payload)
    found = violations(response)
    assert len(found) == 100
    assert response.json()["truncated"] is True
    assert found[:3] == [
        {"path": "/customers/0/events/0/fulfilled", "message": "must be boolean, got string", "rule": "type"},
        {"path": "/customers/0/events/0/issued_at", "message": found[1]["message"], "rule": "format"},
        {"path": "/customers/0/id", "message": "must not be empty", "rule": "minLength"},
    ]
    assert len(response.content) < 20_000
    assert stored(api) == before


def test_r6_one_megabyte_string_is_refused_without_echoing_it(api: httpx.Client) -> None:
    before = stored(api)
    response = post(api, with_change(body(), "/customers/0/id", "z" * 1_000_000))
    assert where(response) == [("/customers/0/id", "maxLength")]
    assert "z" * 20 not in response.text
    assert len(response.content) < 1000
    assert stored(api) == before


@pytest.mark.parametrize(
    ("pointer", "value"),
    [
        ("/customers/0/events", [None] * 1000),
        (f"{ORDER}/payment_method", "P" * 100_000),
        (f"{EVENT}/issued_at", "9" * 100_000),
    ],
)
def test_r7_messages_never_echo_the_failing_value(api: httpx.Client, pointer: str, value: Any) -> None:
    response = post(api, with_change(body(), pointer, value))
    assert all(len(violation["message"]) <= 200 for violation in violations(response))
    assert "P" * 20 not in response.text and "9" * 20 not in response.text
    assert len(response.content) < 20_000


def test_a_huge_unknown_member_name_is_cut_short_in_warnings(http: httpx.Client) -> None:
    name = "m" * 100_000
    sent = with_change(body(), f"/customers/0/events/0/{name}", 1)
    assert post_events(http, sent).status_code == 201
    [warning] = http.get("/_mock/requests").json()["data"][0]["warnings"]
    assert warning["path"] == "/customers/0/events/0/" + "m" * 256 + "..."
    assert http.get("/_mock/events").json()["data"][0]["event"][name] == 1  # stored as sent, all the same
