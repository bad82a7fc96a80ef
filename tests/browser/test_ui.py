"""Issue 13: the web page (/_mock/ui) in a real browser: headless Chromium from Debian's package,
driven by Playwright. Hostile text in stored values shows as text; violations are marked in a
refused body; new requests appear without reloading; the account selector filters."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from conftest import JSON_AUTH, client_for, post_events
from payloads import CUSTOMERS_PATH, body, event, profile, profiles_body, with_change

from mock_masivo import MockMasivoServer
from mock_masivo.config import Settings

CHROMIUM = os.environ.get("MOCK_MASIVO_CHROMIUM", "/usr/bin/chromium")
# Without the background-networking flags Chromium keeps trying to reach Google's hosts.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
HOSTILE = "<img src=x onerror=alert(1)><script>alert(2)</script>\"'&amp;"

if not Path(CHROMIUM).exists():
    if os.environ.get("MOCK_MASIVO_REQUIRE_BROWSER"):
        pytest.fail(f"no Chromium at {CHROMIUM} (MOCK_MASIVO_CHROMIUM) and MOCK_MASIVO_REQUIRE_BROWSER is set")
    pytest.skip(
        f"no Chromium at {CHROMIUM}: install Debian's chromium or set MOCK_MASIVO_CHROMIUM", allow_module_level=True
    )
sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def served() -> Iterator[MockMasivoServer]:
    with MockMasivoServer(Settings(memory=True, port=0, log_level="warning")) as server:
        yield server


@pytest.fixture
def page(browser: Any, served: MockMasivoServer) -> Iterator[Any]:
    """A fresh page that fails the test on any dialog (alert: a script ran) or script error."""
    context = browser.new_context(viewport={"width": 1300, "height": 900})
    opened = context.new_page()
    trouble: list[str] = []

    def refuse(dialog: Any) -> None:
        trouble.append(f"dialog: {dialog.message}")
        dialog.dismiss()

    opened.on("dialog", refuse)
    opened.on("pageerror", lambda error: trouble.append(f"page error: {error}"))
    opened.on("console", lambda message: trouble.append(message.text) if message.type == "error" else None)
    yield opened
    context.close()
    assert trouble == []


def visit(page: Any, server: MockMasivoServer, fragment: str = "") -> None:
    page.goto(f"{server.url}/_mock/ui{fragment}")
    page.wait_for_selector("main h2")


def seed_hostile(http: httpx.Client) -> None:
    assert (
        http.post(
            CUSTOMERS_PATH, json=profiles_body(profile(HOSTILE, name=HOSTILE, email="h@example.com")), headers=JSON_AUTH
        ).status_code
        == 201
    )
    assert (
        post_events(http, {"customers": [{"id": HOSTILE, "events": [event(1, metadata={"n": HOSTILE})]}]}).status_code
        == 201
    )
    assert post_events(http, with_change(body(), "/customers/0/events/0/issued_at", HOSTILE)).status_code == 422


def test_hostile_values_show_as_text_on_every_view(page: Any, served: MockMasivoServer, tmp_path: Path) -> None:
    with client_for(served.url) as http:
        seed_hostile(http)
    for fragment in (
        "",
        "#requests",
        "#requests/req_3",
        "#customers",
        f"#customers/{quote(HOSTILE, safe='')}",
        "#batches",
        "#batches/bat_1",
    ):
        visit(page, served, fragment)
        page.wait_for_timeout(300)
        assert page.locator("main img, main script, main iframe").count() == 0, fragment
        page.screenshot(path=str(tmp_path / f"view{len(fragment)}.png"))
    visit(page, served, f"#customers/{quote(HOSTILE, safe='')}")
    assert page.locator("main h2").inner_text() == f"Customers \u203a {HOSTILE}"
    assert page.locator("dl.facts dd").nth(1).inner_text() == HOSTILE


def test_a_refused_body_marks_each_violation_where_it_sits(page: Any, served: MockMasivoServer) -> None:
    bad = with_change(body(customers=2, events_each=2), "/customers/1/events/0/issued_at", "yesterday")
    bad = with_change(bad, "/customers/0/events/1/order/value", "12")
    with client_for(served.url) as http:
        assert post_events(http, bad).status_code == 422
    visit(page, served, "#requests/req_1")
    marked = page.locator(".line.bad")
    assert [marked.nth(i).get_attribute("data-pointer") for i in range(marked.count())] == [
        "/customers/0/events/1/order/value",
        "/customers/1/events/0/issued_at",
    ]
    assert marked.nth(1).inner_text().strip() == '"issued_at": "yesterday",'
    notes = page.locator(".note")
    assert [notes.nth(i).inner_text() for i in range(notes.count())] == [
        "/customers/0/events/1/order/value: must be number, got string",
        "/customers/1/events/0/issued_at: must be a valid date-time (RFC 3339, e.g. 2023-11-07T05:31:56Z)",
    ]


def test_a_missing_member_is_marked_on_its_parent(page: Any, served: MockMasivoServer) -> None:
    payload = body()
    del payload["customers"][0]["events"][0]["fulfilled"]
    with client_for(served.url) as http:
        assert post_events(http, payload).status_code == 422
    visit(page, served, "#requests/req_1")
    assert page.locator(".line.bad").get_attribute("data-pointer") == "/customers/0/events/0"


def test_new_requests_appear_within_two_seconds_without_reloading(page: Any, served: MockMasivoServer) -> None:
    visit(page, served, "#requests")
    with client_for(served.url) as http:
        assert post_events(http, body()).status_code == 201
        page.wait_for_selector('tr[data-id="req_1"]', timeout=2000)
        assert post_events(http, b"{").status_code == 400
        page.wait_for_selector('tr[data-id="req_2"]', timeout=2000)
    visit(page, served, "")
    assert page.locator("#cards .card").first.inner_text().split("\n") == ["2", "requests"]


def test_the_account_selector_shows_one_accounts_data(page: Any, served: MockMasivoServer) -> None:
    with client_for(served.url) as http:
        ana = http.post("/_mock/accounts").json()["data"]
        assert (
            post_events(
                http, body(), headers={"Authorization": f"Bearer {ana['token']}", "Content-Type": "application/json"}
            ).status_code
            == 201
        )
        assert post_events(http, body()).status_code == 201
    visit(page, served, "#batches")
    page.wait_for_selector(f'#account option[value="{ana["id"]}"]', state="attached", timeout=3000)
    assert page.locator("tbody tr").count() == 2
    page.select_option("#account", ana["id"])
    sync_api.expect(page.locator("tbody tr")).to_have_count(1)  # the page's CSP forbids wait_for_function's eval
    assert page.locator("tbody tr td").nth(2).inner_text() == ana["id"]


def test_the_page_is_locked_down_and_a_browser_at_the_root_is_sent_to_it(served: MockMasivoServer) -> None:
    with client_for(served.url) as http:
        answer = http.get("/_mock/ui")
        assert answer.status_code == 200 and answer.headers["content-type"] == "text/html; charset=utf-8"
        assert "script-src 'self'" in answer.headers["content-security-policy"]
        assert answer.headers["x-frame-options"] == "DENY"
        assert http.get("/_mock/ui/app.js").headers["content-type"] == "text/javascript; charset=utf-8"
        assert http.get("/_mock/ui/../inspect.py").status_code == 404
        assert http.get("/_mock/ui/nothing.js").status_code == 404
        redirected = http.get("/", headers={"Accept": "text/html,application/xhtml+xml"})
        assert (redirected.status_code, redirected.headers["location"]) == (303, "/_mock/ui")
        assert http.get("/").status_code == 404  # an API client keeps its 404


def test_customers_are_found_by_id_or_by_email(page: Any, served: MockMasivoServer) -> None:
    with client_for(served.url) as http:
        assert (
            http.post(
                CUSTOMERS_PATH, json=profiles_body(profile("ana", email="Ana@Example.com")), headers=JSON_AUTH
            ).status_code
            == 201
        )
    visit(page, served, "#customers")
    page.fill("#customer-search", "ana")
    page.press("#customer-search", "Enter")
    sync_api.expect(page.locator("main h2")).to_have_text("Customers \u203a ana")
    visit(page, served, "#customers")
    page.fill("#customer-search", "Ana@Example.com")
    page.press("#customer-search", "Enter")
    sync_api.expect(page.locator("tbody tr")).to_have_count(1)
    assert page.locator("tbody tr td").first.inner_text() == "ana"


def test_lists_show_the_newest_hundred_first(page: Any, served: MockMasivoServer) -> None:
    with client_for(served.url) as http:
        for number in range(105):
            assert post_events(http, body(prefix=f"n{number}-")).status_code == 201
    for fragment, newest, oldest in (("#batches", "bat_105", "bat_6"), ("#requests", "req_105", "req_6")):
        visit(page, served, fragment)
        rows = page.locator("tbody tr")
        sync_api.expect(rows.first).to_have_attribute("data-id", newest)  # the new view, not the last one's rows
        sync_api.expect(rows).to_have_count(100)
        assert (rows.first.get_attribute("data-id"), rows.last.get_attribute("data-id")) == (newest, oldest)
