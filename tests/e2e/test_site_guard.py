"""Issue 15 item 1: other web pages cannot read the mock's data (DNS rebinding) or change its state
(cross-site form posts)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from conftest import JSON_AUTH, MIGRATE, client_for, post_events, stored_count
from payloads import body

from mock_masivo import MockMasivoServer
from mock_masivo.config import Settings
from mock_masivo.web.guard import SiteGuard


@pytest.mark.parametrize(
    "host", ["attacker.example", "attacker.example:8642", "localhost.attacker.example", "127.0.0.1.nip.io"]
)
def test_a_host_the_server_was_not_told_about_is_refused_before_any_data_is_read(http: httpx.Client, host: str) -> None:
    post_events(http, body())
    for path in ("/_mock/events", "/_mock/report", "/openapi.json"):
        answer = http.get(path, headers={"Host": host})
        assert answer.status_code == 400, path
        assert answer.json()["error"] == "Host not allowed" and "--allowed-host" in answer.json()["details"]
        assert "customers" not in answer.text and "c0" not in answer.text
    assert http.post(MIGRATE, json=body(), headers={**JSON_AUTH, "Host": host}).status_code == 400
    assert stored_count(http) == 1


@pytest.mark.parametrize(
    "host", ["127.0.0.1:1", "localhost:8642", "LOCALHOST", "[::1]:8642", "10.1.2.3", "app.localhost:80"]
)
def test_addresses_and_localhost_are_always_allowed(http: httpx.Client, host: str) -> None:
    assert http.get("/_mock/health", headers={"Host": host}).status_code == 200


def test_allowed_host_adds_names_such_as_a_compose_service(make_server: Any) -> None:
    server: MockMasivoServer = make_server(memory=True, allowed_hosts=("mock-masivo", "Masivo.Test"))
    with client_for(server.url) as http:
        for host in ("mock-masivo:8642", "masivo.test", "masivo.test."):
            assert http.get("/_mock/health", headers={"Host": host}).status_code == 200, host
        assert http.get("/_mock/health", headers={"Host": "other"}).status_code == 400


def test_the_allowed_hosts_variable_is_comma_separated() -> None:
    settings = Settings.from_env({"MOCK_MASIVO_ALLOWED_HOST": "a, b"})
    assert settings.allowed_hosts == ("a", "b")
    assert SiteGuard(settings).allows("b:1") and not SiteGuard(settings).allows("c")


def test_a_cross_site_form_post_cannot_reset(http: httpx.Client) -> None:
    post_events(http, body())
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    for headers in (
        {**form, "Origin": "https://attacker.example"},
        {**form, "Sec-Fetch-Site": "cross-site"},
        {**form, "Sec-Fetch-Site": "same-site"},
        {"Origin": "null"},
        {"Origin": f"http://localhost:{http.base_url.port}"},
    ):
        answer = http.post("/_mock/reset", headers=headers)
        assert answer.status_code == 403, headers
        assert answer.json()["error"] == "Cross-site request refused"
    assert http.post("/_mock/clock", json={"advance": 5}, headers={"Origin": "http://evil.test"}).status_code == 403
    assert http.post("/_mock/accounts", headers={"Sec-Fetch-Site": "cross-site"}).status_code == 403
    assert stored_count(http) == 1


def test_the_servers_own_page_tests_and_scripts_may_change_state(http: httpx.Client) -> None:
    own = f"http://{http.base_url.host}:{http.base_url.port}"
    assert (
        http.post(
            "/_mock/clock", json={"advance": 1}, headers={"Origin": own, "Sec-Fetch-Site": "same-origin"}
        ).status_code
        == 200
    )
    assert http.post("/_mock/reset", headers={"Sec-Fetch-Site": "none"}).status_code == 200  # typed in the address bar
    assert http.post("/_mock/reset").status_code == 200  # no Origin: a test or a script
    # reading stays open to any origin's page only in the sense browsers allow: no CORS header is ever sent
    assert "access-control-allow-origin" not in http.get("/_mock/events", headers={"Origin": "http://x.test"}).headers
