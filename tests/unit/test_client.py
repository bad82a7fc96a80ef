"""MockMasivoClient against a real server: every method, paging, account scope, and assertion messages."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import httpx
import pytest
from conftest import MIGRATE, post_events
from payloads import body, event

from mock_masivo import MockMasivoClient, MockMasivoServer


@pytest.fixture
def client(server: MockMasivoServer) -> Iterator[MockMasivoClient]:
    with MockMasivoClient(server.url) as unscoped:
        yield unscoped


@pytest.fixture
def account(client: MockMasivoClient) -> dict[str, str]:
    return client.new_account()


def post_as(http: httpx.Client, token: str, payload: object) -> httpx.Response:
    return http.post(MIGRATE, json=payload, headers={"Authorization": f"Bearer {token}"})


def test_events_returns_every_event_in_receipt_order(client: MockMasivoClient, http: httpx.Client) -> None:
    batch_id = post_events(http, body(customers=2, events_each=2)).headers["X-Mock-Batch-Id"]
    events = client.events()
    assert [e["customer_id"] for e in events] == ["c0", "c0", "c1", "c1"]
    assert [e["event"]["order"]["purchase_id"] for e in events] == ["p-0", "p-1", "p-2", "p-3"]
    assert {e["batch_id"] for e in events} == {batch_id}


def test_events_filters_by_customer_type_batch_and_purchase(client: MockMasivoClient, http: httpx.Client) -> None:
    first = post_events(http, body(customers=2)).headers["X-Mock-Batch-Id"]
    post_events(http, {"customers": [{"id": "c0", "events": [event(7, type="REDEEM")]}]})
    assert [e["event"]["type"] for e in client.events(customer_id="c0")] == ["PURCHASE", "REDEEM"]
    assert [e["customer_id"] for e in client.events(type="REDEEM")] == ["c0"]
    assert [e["customer_id"] for e in client.events(batch_id=first)] == ["c0", "c1"]
    assert [e["customer_id"] for e in client.events(purchase_id="p-1")] == ["c1"]
    assert client.events(customer_id="nobody") == []
    assert len(client.events(customer_id=None)) == 3  # a None filter means no filter


def test_events_reads_every_page_past_the_1000_limit(client: MockMasivoClient, http: httpx.Client) -> None:
    for prefix in ("a", "b", "c"):
        assert post_events(http, body(customers=1000 if prefix != "c" else 5, prefix=prefix)).status_code == 201
    events = client.events()
    assert len(events) == 2005
    assert len({e["id"] for e in events}) == 2005
    assert [e["customer_id"] for e in events[999:1001]] == ["a999", "b0"]
    assert events[-1]["customer_id"] == "c4"


def test_customer_returns_events_and_metrics(client: MockMasivoClient, http: httpx.Client) -> None:
    post_events(http, {"customers": [{"id": "a/b c", "events": [event(1), event(2)]}]})
    customer = client.customer("a/b c")
    assert customer is not None
    assert customer["id"] == "a/b c"
    assert [e["event"]["order"]["purchase_id"] for e in customer["events"]] == ["p-1", "p-2"]
    assert customer["metrics"]["lifetime"]["number_of_purchases"] == 2


def test_customer_is_none_when_nothing_arrived_for_it(client: MockMasivoClient, http: httpx.Client) -> None:
    post_events(http, body())
    assert client.customer("unknown") is None


def test_customers_and_batches_list_what_arrived(client: MockMasivoClient, http: httpx.Client) -> None:
    batch_id = post_events(http, body(customers=2, events_each=3)).headers["X-Mock-Batch-Id"]
    assert [(c["id"], c["events"]) for c in client.customers()] == [("c0", 3), ("c1", 3)]
    [batch] = client.batches()
    assert (batch["id"], batch["customers"], batch["events"]) == (batch_id, 2, 6)


def test_requests_lists_the_journal_and_filters_by_status(client: MockMasivoClient, http: httpx.Client) -> None:
    post_events(http, body())
    post_events(http, {"customers": []})
    assert [r["status"] for r in client.requests()] == [201, 422]
    [rejected] = client.requests(status=422)
    assert rejected["errors"][0]["path"] == "/customers"


def test_health_reports_the_server(client: MockMasivoClient, http: httpx.Client) -> None:
    post_events(http, body(customers=3))
    health = client.health()
    assert (health["status"], health["events"]) == ("ok", 3)


def test_reset_removes_everything(client: MockMasivoClient, http: httpx.Client) -> None:
    post_events(http, body(customers=2))
    assert client.reset() == {"batches": 1, "profiles": 0, "transactions": 0, "events": 2, "requests": 1}
    assert client.events() == [] and client.requests() == [] and client.batches() == []


def test_new_account_gives_working_credentials(
    client: MockMasivoClient, http: httpx.Client, account: dict[str, str]
) -> None:
    assert set(account) == {"id", "api_key", "token"}
    token = http.get("/auth/authorize", headers={"x-api-key": account["api_key"]}).json()["data"]
    assert post_as(http, token, body()).status_code == 201
    assert post_as(http, account["token"], body()).status_code == 201
    assert {e["account"] for e in client.events()} == {account["id"]}


def test_scoped_client_sees_and_resets_only_its_account(
    server: MockMasivoServer, client: MockMasivoClient, http: httpx.Client, account: dict[str, str]
) -> None:
    post_events(http, body(prefix="default-"))
    post_as(http, account["token"], body(prefix="mine-"))
    with MockMasivoClient(server.url, account=account["id"]) as mine:
        assert [e["customer_id"] for e in mine.events()] == ["mine-0"]
        assert mine.customer("default-0") is None
        assert len(mine.batches()) == 1 and len(mine.requests()) == 1 and len(mine.customers()) == 1
        assert mine.reset() == {"batches": 1, "profiles": 0, "transactions": 0, "events": 1, "requests": 1}
        assert mine.events() == []
    assert [e["customer_id"] for e in client.events()] == ["default-0"]


def test_client_accepts_the_base_url_too(server: MockMasivoServer, http: httpx.Client) -> None:
    post_events(http, body())
    with MockMasivoClient(server.base_url + "/") as client:
        assert client.url == server.url
        assert len(client.events()) == 1


def test_refused_query_raises_with_the_servers_answer(client: MockMasivoClient) -> None:
    with pytest.raises(AssertionError, match=r"GET .*/_mock/events\?status=DONE.* -> 422: .*'status' must be one of"):
        client.events(status="DONE")


def test_assert_received_returns_the_matching_events(client: MockMasivoClient, http: httpx.Client) -> None:
    post_events(http, body(customers=2, events_each=2))
    assert len(client.assert_received()) == 4
    assert [e["customer_id"] for e in client.assert_received(customer_id="c1", count=2)] == ["c1", "c1"]
    assert client.assert_received(customer_id="c9", count=0) == []
    assert len(client.assert_received(type="PURCHASE", purchase_id="p-3", count=1)) == 1


def test_assert_received_failure_shows_what_arrived(client: MockMasivoClient, http: httpx.Client) -> None:
    batch_id = post_events(http, body(customers=2)).headers["X-Mock-Batch-Id"]
    with pytest.raises(AssertionError) as failure:
        client.assert_received(customer_id="c0", count=3)
    lines = str(failure.value).splitlines()
    assert lines[0] == "expected 3 event(s) matching customer_id='c0', found 1."
    assert lines[1] == "Received 2 event(s):"
    assert lines[2].startswith("  evt_") and f"customer_id='c0' batch_id={batch_id} " in lines[2]
    assert '"purchase_id":"p-0"' in lines[2] and "customer_id='c1'" in lines[3]
    assert len(lines) == 4


def test_assert_received_failure_also_lists_rejected_requests(client: MockMasivoClient, http: httpx.Client) -> None:
    post_events(http, {"customers": []})
    with pytest.raises(AssertionError) as failure:
        client.assert_received()
    assert str(failure.value).splitlines() == [
        "expected at least one event matching anything, found 0.",
        "Received 0 event(s):",
        "Rejected 1 request(s):",
        "  POST /api/storefront/v1/customers/migrate/events -> 422",
        f"      /customers: {client.requests()[0]['errors'][0]['message']}",
    ]


def test_assert_received_failure_shortens_long_listings(client: MockMasivoClient, http: httpx.Client) -> None:
    post_events(http, body(customers=25))
    with pytest.raises(AssertionError) as failure:
        client.assert_received(count=1)
    lines = str(failure.value).splitlines()
    assert lines[1] == "Received 25 event(s):"
    assert lines[-1] == "  ... and 5 more"
    assert len(lines) == 2 + 20 + 1


def test_assert_no_rejections_passes_when_everything_was_accepted(client: MockMasivoClient, http: httpx.Client) -> None:
    post_events(http, body())
    client.assert_no_rejections()


def test_assert_no_rejections_lists_each_rejection_with_its_errors(
    client: MockMasivoClient, http: httpx.Client
) -> None:
    many_bad = {"customers": [{"id": f"c{n}", "events": [event(n, issued_at="yesterday")]} for n in range(12)]}
    post_events(http, many_bad)
    post_events(http, body())
    http.post(MIGRATE, json=body())  # no token
    with pytest.raises(AssertionError) as failure:
        client.assert_no_rejections()
    lines = str(failure.value).splitlines()
    assert lines[0] == "2 request(s) were rejected:"
    assert lines[1] == "  POST /api/storefront/v1/customers/migrate/events -> 422"
    assert lines[2].startswith("      /customers/0/events/0/issued_at: ")
    assert lines[11].startswith("      /customers/9/events/0/issued_at: ")
    assert lines[12] == "      ... and 2 more error(s)"
    assert lines[13] == "  POST /api/storefront/v1/customers/migrate/events -> 401"
    assert len(lines) == 15


def test_wait_for_events_returns_once_a_background_thread_posted(
    server: MockMasivoServer, client: MockMasivoClient
) -> None:
    def send_later() -> None:
        with httpx.Client(base_url=server.url) as background:
            post_events(background, body(customers=3))

    sender = threading.Timer(0.2, send_later)
    sender.start()
    try:
        events = client.wait_for_events(3, timeout=20)
    finally:
        sender.join()
    assert [e["customer_id"] for e in events] == ["c0", "c1", "c2"]


def test_wait_for_events_filters_and_returns_at_once_when_already_there(
    client: MockMasivoClient, http: httpx.Client
) -> None:
    post_events(http, body(customers=2))
    assert [e["customer_id"] for e in client.wait_for_events(1, timeout=0, customer_id="c1")] == ["c1"]


def test_wait_for_events_timeout_says_what_arrived(client: MockMasivoClient, http: httpx.Client) -> None:
    post_events(http, body())
    with pytest.raises(AssertionError) as failure:
        client.wait_for_events(2, timeout=0.1, type="PURCHASE")
    lines = str(failure.value).splitlines()
    assert lines[0] == "waited 0.1 s for 2 event(s) matching type='PURCHASE', found 1."
    assert lines[1] == "Received 1 event(s):"


def test_client_moves_the_clock_and_manages_faults_scoped_to_its_account() -> None:
    with MockMasivoServer() as server, MockMasivoClient(server.url) as admin:
        account = admin.new_account()
        with MockMasivoClient(server.url, account=account["id"]) as scoped:
            assert scoped.advance_clock(30)["offset"] == 30
            assert scoped.clock()["offset"] == 30
            assert admin.clock()["offset"] == 0  # a scoped client moves its own account's clock only
            rule = scoped.add_fault(status=500, times=1)
            assert rule["account"] == account["id"]
            admin.add_fault(status=502, account="someone-else")
            assert scoped.clear_faults() == 1
            assert [remaining["status"] for remaining in admin.faults()] == [502]
            assert admin.clear_faults() == 1
            assert admin.faults() == []


def test_a_dropped_connection_counts_as_a_rejection_in_the_client() -> None:
    with MockMasivoServer() as server, MockMasivoClient(server.url) as client:
        client.add_fault(drop="after", times=1)
        with pytest.raises(httpx.TransportError):
            post_events(httpx.Client(base_url=server.url), body())
        with pytest.raises(AssertionError, match="1 request"):
            client.assert_no_rejections()


@pytest.mark.parametrize(
    ("method", "typo"),
    [("events", "customer"), ("profiles", "mail"), ("transactions", "kind"), ("batches", "type"), ("requests", "code")],
)
def test_an_unknown_filter_name_is_a_type_error_naming_the_known_ones(method: str, typo: str) -> None:
    with MockMasivoClient("http://127.0.0.1:9") as client, pytest.raises(TypeError, match=f"unknown filter '{typo}'"):
        getattr(client, method)(**{typo: "x"})


def test_assert_received_with_a_misspelled_filter_raises_instead_of_passing() -> None:
    with MockMasivoClient("http://127.0.0.1:9") as client, pytest.raises(TypeError, match="customer_id, "):
        client.assert_received(customer="ben", count=1)


def test_customer_gathers_every_page_of_its_events(client: MockMasivoClient, http: httpx.Client) -> None:
    for number in range(2):
        events = [event(number * 1000 + n) for n in range(1000)]
        assert post_events(http, {"customers": [{"id": "busy", "events": events}]}).status_code == 201
    customer = client.customer("busy")
    assert customer is not None
    assert [stored["id"] for stored in customer["events"]] == [f"evt_{n}" for n in range(1, 2001)]
    assert customer["events_total"] == 2000
