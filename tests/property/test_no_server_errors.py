"""Whatever a client sends, the server never answers 5xx, and what it accepts can always be read back.

One real server for the whole module (hypothesis runs many examples per test; starting a server per
example would be slow, and function-scoped fixtures do not mix with @given). Every request uses its
own connection: uvicorn closes a connection after a 500, and a reused one would fail the next example
for the wrong reason.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from conftest import JSON_AUTH, MIGRATE
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from payloads import body

from mock_masivo import MockMasivoServer
from mock_masivo.config import Settings

EXAMPLES = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FEW_EXAMPLES = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FRESH = {"Connection": "close"}
EVENT = "/customers/0/events/0"
ORDER = EVENT + "/order"
LOCATIONS = [
    "/customers",
    "/customers/0",
    "/customers/0/id",
    "/customers/0/events",
    EVENT,
    f"{EVENT}/type",
    f"{EVENT}/fulfilled",
    f"{EVENT}/issued_at",
    f"{EVENT}/resolved_at",
    f"{EVENT}/channel_id",
    ORDER,
    f"{ORDER}/value",
    f"{ORDER}/purchase_id",
    f"{ORDER}/payment_method",
    f"{ORDER}/products",
    f"{ORDER}/shipping",
    f"{ORDER}/redeem",
    f"{ORDER}/metadata",
]
OBJECTS = ["", "/customers/0", EVENT, ORDER, f"{ORDER}/metadata"]
LISTINGS = ["/_mock/events", "/_mock/customers", "/_mock/batches", "/_mock/requests"]
PARAMETERS = ["limit", "offset", "status", "customer_id", "type", "batch_id", "purchase_id", "account", "duplicates"]

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=20)
    | st.text(st.characters(codec="utf-8"), max_size=20)
)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
header_values = st.binary(min_size=1, max_size=40).map(lambda raw: bytes(b for b in raw if 0x21 <= b != 0x7F))


@pytest.fixture(scope="module")
def api() -> Iterator[httpx.Client]:
    with (
        MockMasivoServer(Settings(memory=True, port=0, log_level="critical")) as server,
        httpx.Client(base_url=server.url, timeout=30, headers=FRESH) as client,
    ):
        yield client


def post(client: httpx.Client, content: bytes, headers: dict[str, Any] | None = None) -> httpx.Response:
    response = client.post(MIGRATE, content=content, headers=JSON_AUTH if headers is None else headers)
    assert response.status_code < 500, response.text
    assert set(response.json()) >= ({"error", "details"} if response.status_code >= 400 else set())
    return response


def encode(value: Any) -> bytes:
    return json.dumps(value, allow_nan=True).encode()


def set_at(payload: Any, pointer: str, value: Any) -> Any:
    changed = copy.deepcopy(payload)
    if not pointer:
        return value
    *parents, last = pointer.strip("/").split("/")
    target = changed
    for part in parents:
        target = target[int(part)] if isinstance(target, list) else target[part]
    target[int(last) if isinstance(target, list) else last] = value
    return changed


def path_segment(text: str) -> str:
    """Percent-encoded, dots included, so '..' stays an id instead of a step up the path."""
    return quote(text, safe="").replace(".", "%2E")


def assert_read_back(client: httpx.Client, response: httpx.Response, sent: Any) -> None:
    """An accepted batch lists exactly as sent, and its customers' metrics can be computed."""
    listed = client.get("/_mock/events", params={"batch_id": response.headers["X-Mock-Batch-Id"], "limit": "1000"})
    assert listed.status_code == 200
    assert [stored["event"] for stored in listed.json()["data"]] == [
        event for customer in sent["customers"] for event in customer["events"]
    ]
    for customer in sent["customers"]:
        found = client.get(f"/_mock/customers/{path_segment(customer['id'])}")
        assert found.status_code == 200, found.text


@EXAMPLES
@given(content=st.binary(max_size=512))
def test_arbitrary_bytes_never_get_a_server_error(api: httpx.Client, content: bytes) -> None:
    assert post(api, content).status_code in (400, 422)


@EXAMPLES
@given(value=json_values)
def test_arbitrary_json_values_never_get_a_server_error(api: httpx.Client, value: Any) -> None:
    assert post(api, encode(value)).status_code in (400, 422)


@EXAMPLES
@given(location=st.sampled_from(LOCATIONS), value=json_values)
def test_any_value_anywhere_in_a_valid_body_is_accepted_or_refused_cleanly(
    api: httpx.Client, location: str, value: Any
) -> None:
    sent = set_at(body(), location, value)
    response = post(api, encode(sent))
    assert response.status_code in (201, 400, 422)
    if response.status_code == 201:
        assert_read_back(api, response, sent)


@EXAMPLES
@given(parent=st.sampled_from(OBJECTS), name=st.text(max_size=30), value=json_values)
@example(parent="/customers/0", name="\u00b2", value=1)
@example(parent="/customers/0", name="9" * 5000, value=1)
def test_any_extra_member_is_accepted_or_refused_cleanly(api: httpx.Client, parent: str, name: str, value: Any) -> None:
    sent = set_at(body(), f"{ORDER}/metadata", {})
    target: Any = sent
    for part in filter(None, parent.split("/")):
        target = target[int(part)] if isinstance(target, list) else target[part]
    target[name] = value
    response = post(api, encode(sent))
    assert response.status_code in (201, 400, 422)
    if response.status_code == 201:
        assert_read_back(api, response, sent)


DATE_TIMES = st.from_regex(
    r"\A\d{4}-[01]\d-[0-3]\d[Tt ][0-2]\d:[0-5]\d:[0-6]\d(\.\d{1,12})?([Zz]|[+-][0-2]\d:[0-5]\d)\Z"
)


@FEW_EXAMPLES
@given(issued_at=DATE_TIMES, resolved_at=DATE_TIMES)
def test_any_date_time_the_validator_accepts_can_be_read_back(
    api: httpx.Client, issued_at: str, resolved_at: str
) -> None:
    sent = set_at(set_at(body(), f"{EVENT}/issued_at", issued_at), f"{EVENT}/resolved_at", resolved_at)
    response = post(api, encode(sent))
    assert response.status_code in (201, 422)
    if response.status_code == 201:
        assert_read_back(api, response, sent)


def test_year_zero_date_time_is_refused_or_can_be_read_back() -> None:
    # Its own server: the record it stores poisons every later customer listing.
    sent = set_at(
        set_at(body(), f"{EVENT}/issued_at", "0000-01-01T00:00:00Z"), f"{EVENT}/resolved_at", "0000-01-01T00:00:00Z"
    )
    with (
        MockMasivoServer(Settings(memory=True, port=0, log_level="critical")) as server,
        httpx.Client(base_url=server.url, timeout=30, headers=FRESH) as client,
    ):
        response = post(client, encode(sent))
        assert response.status_code in (201, 422)
        if response.status_code == 201:
            assert_read_back(client, response, sent)
            assert client.get("/_mock/customers").status_code == 200


@FEW_EXAMPLES
@given(content_type=header_values, authorization=header_values, api_key=header_values)
def test_arbitrary_header_values_never_get_a_server_error(
    api: httpx.Client, content_type: bytes, authorization: bytes, api_key: bytes
) -> None:
    assume(content_type and authorization and api_key)
    headers = {"Content-Type": content_type, "Authorization": b"Bearer " + authorization}
    assert post(api, encode(body()), headers).status_code in (401, 415)
    assert post(api, encode(body()), {**JSON_AUTH, "Content-Type": content_type}).status_code in (201, 415)
    authorize = api.get("/auth/authorize", headers={b"x-api-key": api_key})
    assert authorize.status_code == 401, authorize.text


@FEW_EXAMPLES
@given(path=st.sampled_from(LISTINGS), name=st.sampled_from(PARAMETERS), value=st.text(max_size=30))
def test_arbitrary_inspection_parameters_never_get_a_server_error(
    api: httpx.Client, path: str, name: str, value: str
) -> None:
    response = api.get(path, params={name: value})
    assert response.status_code in (200, 422), response.text


@FEW_EXAMPLES
@given(kind=st.sampled_from(["events", "customers"]), prefix=st.sampled_from(["", "evt_"]), rest=st.text(min_size=1))
def test_arbitrary_ids_never_get_a_server_error(api: httpx.Client, kind: str, prefix: str, rest: str) -> None:
    response = api.get(f"/_mock/{kind}/{path_segment(prefix + rest)}")
    assert response.status_code in (200, 404), response.text
