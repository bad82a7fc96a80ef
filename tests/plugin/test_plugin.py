"""The pytest plugin, exercised the way users meet it: their own test files, run with pytester.

Runs are in-process unless isolation matters (xdist, import cost): then in a subprocess.
pytester removes the modules an in-process run imported, so modules are imported here first: httpx
imports httpcore lazily and caches its exception classes, and a second generation of httpcore makes
a later run see httpcore.ConnectError instead of httpx.ConnectError.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator

import httpcore  # noqa: F401  # imported here, not first inside an in-process run (see above)
import pytest

import mock_masivo.web.app  # noqa: F401  # likewise: one generation of the server's modules, imported once
from mock_masivo import MasivoMock, MockMasivoClient, MockMasivoServer
from mock_masivo.config import Settings

USER_INI = """
[pytest]
addopts = --strict-markers -p no:cacheprovider
filterwarnings = error
"""

# What a user's own code would be: a tiny Masivo client posting PURCHASE events.
USER_HELPERS = '''
import httpx


def purchase(purchase_id, value=10.5, **extra):
    return {"type": "PURCHASE", "order": {"purchase_id": purchase_id, "value": value},
            "fulfilled": True, "issued_at": "2023-11-07T05:31:56Z", "resolved_at": "2023-11-07T05:31:56Z", **extra}


def migrate(mock, customers, token=None, content_type="application/json"):
    """POST {customer_id: [event, ...]} as one batch to the mock's Masivo base URL."""
    body = {"customers": [{"id": customer, "events": events} for customer, events in customers.items()]}
    headers = {"Authorization": f"Bearer {token or mock.token}", "Content-Type": content_type}
    with httpx.Client(base_url=mock.base_url) as http:
        return http.post("/customers/migrate/events", content=httpx.Request("POST", "/", json=body).content,
                         headers=headers)
'''


@pytest.fixture
def user_project(pytester: pytest.Pytester) -> pytest.Pytester:
    """pytester with the user's ini and `masivo_helpers.py`; add test files with makepyfile."""
    pytester.makeini(USER_INI)
    pytester.makepyfile(masivo_helpers=USER_HELPERS)
    return pytester


@pytest.fixture
def running_server() -> Iterator[MockMasivoServer]:
    """A server the user's suite reaches through --masivo-url, as if it ran in docker-compose."""
    with MockMasivoServer(Settings(memory=True, port=0, log_level="warning")) as server:
        yield server


def test_user_test_using_masivo_mock_passes(user_project: pytest.Pytester) -> None:
    user_project.makepyfile("""
        from masivo_helpers import migrate, purchase

        def test_migration_sends_the_purchase(masivo_mock):
            response = migrate(masivo_mock, {"c-1": [purchase("p-1"), purchase("p-2")]})
            assert response.status_code == 201
            events = masivo_mock.assert_received(customer_id="c-1", count=2)
            assert [e["event"]["order"]["purchase_id"] for e in events] == ["p-1", "p-2"]
            assert masivo_mock.customer("c-1")["metrics"]["lifetime"]["number_of_purchases"] == 2
            assert masivo_mock.base_url == masivo_mock.url + "/api/storefront/v1"
            masivo_mock.assert_no_rejections()
    """)
    user_project.runpytest().assert_outcomes(passed=1)


def test_two_tests_on_one_server_each_see_only_their_own_events(user_project: pytest.Pytester) -> None:
    user_project.makepyfile("""
        from masivo_helpers import migrate, purchase
        from mock_masivo import MockMasivoClient

        seen = {}

        def test_first(masivo_mock):
            seen["first"] = (masivo_mock.url, masivo_mock.account)
            assert migrate(masivo_mock, {"first": [purchase("p-1")]}).status_code == 201
            assert [e["customer_id"] for e in masivo_mock.events()] == ["first"]

        def test_second(masivo_mock):
            url, account = seen["first"]
            assert masivo_mock.url == url and masivo_mock.account != account
            assert masivo_mock.events() == [] and masivo_mock.requests() == []
            with MockMasivoClient(url) as everyone:  # the first test's data went at its teardown
                assert everyone.events() == []
            assert migrate(masivo_mock, {"second": [purchase("p-2")]}).status_code == 201
            assert [e["customer_id"] for e in masivo_mock.events()] == ["second"]
            assert masivo_mock.customer("first") is None
    """)
    user_project.runpytest().assert_outcomes(passed=2)


def test_tests_sharing_a_running_server_see_only_their_own_data(
    user_project: pytest.Pytester, running_server: MockMasivoServer
) -> None:
    # An external server keeps every test's data, so isolation here comes from the accounts alone.
    user_project.makepyfile("""
        import pytest
        from masivo_helpers import migrate, purchase

        @pytest.mark.parametrize("customer", ["a", "b", "c"])
        def test_each_account_holds_one_customer(masivo_mock, customer):
            assert migrate(masivo_mock, {customer: [purchase("p-" + customer)]}).status_code == 201
            assert [e["customer_id"] for e in masivo_mock.events()] == [customer]
            assert len(masivo_mock.batches()) == 1 and len(masivo_mock.requests()) == 1
    """)
    user_project.runpytest("--masivo-url", running_server.url).assert_outcomes(passed=3)
    stored = running_server.client.events()
    assert sorted(e["customer_id"] for e in stored) == ["a", "b", "c"]
    assert len({e["account"] for e in stored}) == 3


def test_failing_assert_received_shows_the_events_that_did_arrive(user_project: pytest.Pytester) -> None:
    user_project.makepyfile("""
        from masivo_helpers import migrate, purchase

        def test_wrong_customer(masivo_mock):
            migrate(masivo_mock, {"c-1": [purchase("p-arrived")]})
            masivo_mock.assert_received(customer_id="c-2")
    """)
    result = user_project.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*AssertionError: expected at least one event matching customer_id='c-2', found 0.",
            "*Received 1 event(s):",
            '*customer_id=\'c-1\' batch_id=*"purchase_id":"p-arrived"*',
        ]
    )


def test_assert_no_rejections_lists_every_rejection_with_its_errors(user_project: pytest.Pytester) -> None:
    user_project.makepyfile("""
        from masivo_helpers import migrate, purchase

        def test_rejected_batches(masivo_mock):
            no_date = purchase("p-1")
            del no_date["issued_at"]
            assert migrate(masivo_mock, {"c-1": [no_date]}).status_code == 422
            assert migrate(masivo_mock, {"c-1": [purchase("p-2")]}, content_type="text/plain").status_code == 415
            assert migrate(masivo_mock, {"c-1": [purchase("p-3")]}).status_code == 201
            masivo_mock.assert_no_rejections()
    """)
    result = user_project.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*AssertionError: 2 request(s) were rejected:",
            "*POST /api/storefront/v1/customers/migrate/events -> 422",
            "*/customers/0/events/0: missing required member 'issued_at'",
            "*POST /api/storefront/v1/customers/migrate/events -> 415",
            "*/: Content-Type must be application/json, got 'text/plain'",
        ]
    )


def test_suite_passes_under_xdist_with_two_workers(user_project: pytest.Pytester) -> None:
    user_project.makepyfile("""
        import os
        import pytest
        from masivo_helpers import migrate, purchase

        @pytest.mark.parametrize("n", range(8))
        def test_parallel_accounts(masivo_mock, n, tmp_path_factory):
            assert migrate(masivo_mock, {f"c-{n}": [purchase(f"p-{n}")] * 2}).status_code == 201
            masivo_mock.assert_received(customer_id=f"c-{n}", count=2)
            assert len(masivo_mock.events()) == 2
            worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
            (tmp_path_factory.getbasetemp().parent / f"{worker}-{n}.url").write_text(masivo_mock.url)
    """)
    result = user_project.runpytest_subprocess("-p", "xdist", "-n", "2")
    result.assert_outcomes(passed=8)
    urls: dict[str, set[str]] = {}
    for path in user_project.path.rglob("gw*.url"):
        urls.setdefault(path.name.split("-")[0], set()).add(path.read_text())
    assert urls and all(len(seen) == 1 for seen in urls.values()), urls  # one server per worker


def test_marker_gives_the_test_its_own_server_with_the_given_settings(user_project: pytest.Pytester) -> None:
    user_project.makepyfile("""
        import pytest
        from masivo_helpers import migrate, purchase

        session_urls = []

        def test_lenient_session_server(masivo_mock):
            session_urls.append(masivo_mock.url)
            assert migrate(masivo_mock, {"c-1": [purchase("p-1", colour="red")]}).status_code == 201

        @pytest.mark.masivo(strict=True, tokens="marked-token")
        def test_strict_own_server(masivo_mock):
            assert masivo_mock.url not in session_urls and masivo_mock.token == "marked-token"
            response = migrate(masivo_mock, {"c-1": [purchase("p-1", colour="red")]})
            assert response.status_code == 422
            assert response.json()["errors"][0]["path"] == "/customers/0/events/0/colour"
            assert masivo_mock.events() == []
            assert [entry["status"] for entry in masivo_mock.requests()] == [422]

        @pytest.mark.masivo(strict=True)
        def test_strict_app(masivo_app):
            assert masivo_app.state.services.settings.strict is True
    """)
    user_project.runpytest().assert_outcomes(passed=3)


def test_marker_with_an_unknown_setting_fails_clearly(user_project: pytest.Pytester) -> None:
    user_project.makepyfile("""
        import pytest

        @pytest.mark.masivo(strikt=True)
        def test_typo(masivo_mock):
            pass
    """)
    result = user_project.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*@pytest.mark.masivo got unknown setting(s) strikt; known: host, port*"])


def test_masivo_url_option_points_the_fixtures_at_a_running_server(
    user_project: pytest.Pytester, running_server: MockMasivoServer
) -> None:
    user_project.makepyfile(f"""
        from masivo_helpers import migrate, purchase

        def test_uses_the_running_server(masivo_mock):
            assert masivo_mock.url == {running_server.url!r}
            assert migrate(masivo_mock, {{"from-suite": [purchase("p-1")]}}).status_code == 201
    """)
    user_project.runpytest("--masivo-url", running_server.url + "/").assert_outcomes(passed=1)
    [stored] = running_server.client.events()
    assert stored["customer_id"] == "from-suite"  # kept: the fixture does not reset a server it does not own


def test_mock_masivo_url_variable_points_the_fixtures_at_a_running_server(
    user_project: pytest.Pytester, running_server: MockMasivoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MOCK_MASIVO_URL", running_server.url)
    user_project.makepyfile(f"""
        def test_uses_the_running_server(masivo_mock):
            assert masivo_mock.url == {running_server.url!r}
    """)
    user_project.runpytest().assert_outcomes(passed=1)


def test_masivo_url_where_nothing_answers_fails_clearly(user_project: pytest.Pytester) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{unused.getsockname()[1]}"  # bound, not listening: connections are refused
        user_project.makepyfile("def test_needs_the_mock(masivo_mock):\n    pass\n")
        result = user_project.runpytest("--masivo-url", url)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([f"*no mock-masivo answers at {url} (--masivo-url / $MOCK_MASIVO_URL)*"])


def test_masivo_app_serves_in_process_through_asgi_transport(user_project: pytest.Pytester) -> None:
    user_project.makepyfile("""
        import asyncio
        import httpx
        from masivo_helpers import purchase

        def test_in_process(masivo_app):
            async def scenario():
                transport = httpx.ASGITransport(app=masivo_app)
                async with httpx.AsyncClient(transport=transport, base_url="http://masivo") as client:
                    token = (await client.get("/api/storefront/v1/auth/authorize",
                                              headers={"x-api-key": "mock-api-key"})).json()["data"]
                    body = {"customers": [{"id": "c-1", "events": [purchase("p-1")]}]}
                    posted = await client.post("/api/storefront/v1/customers/migrate/events", json=body,
                                               headers={"Authorization": f"Bearer {token}"})
                    assert posted.status_code == 201
                    return (await client.get("/_mock/events")).json()
            listing = asyncio.run(scenario())
            assert listing["total"] == 1 and listing["data"][0]["customer_id"] == "c-1"
    """)
    user_project.runpytest().assert_outcomes(passed=1)


def test_overriding_masivo_settings_configures_the_session_server_and_app(user_project: pytest.Pytester) -> None:
    user_project.makeconftest("""
        import pytest
        from mock_masivo import Settings

        @pytest.fixture(scope="session")
        def masivo_settings():
            return Settings(memory=True, port=0, log_level="warning", strict=True, api_keys=("my-key",))
    """)
    user_project.makepyfile("""
        from masivo_helpers import migrate, purchase

        def test_session_server_is_strict(masivo_mock):
            assert migrate(masivo_mock, {"c-1": [purchase("p-1", colour="red")]}).status_code == 422

        def test_app_uses_the_same_settings(masivo_app):
            assert masivo_app.state.services.settings.strict is True
            assert masivo_app.state.services.settings.api_keys == ("my-key",)
    """)
    user_project.runpytest().assert_outcomes(passed=2)


def test_taken_port_in_masivo_settings_fails_with_a_clear_error(user_project: pytest.Pytester) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        user_project.makeconftest(f"""
            import pytest
            from mock_masivo import Settings

            @pytest.fixture(scope="session")
            def masivo_settings():
                return Settings(memory=True, port={port}, log_level="warning")
        """)
        user_project.makepyfile("def test_needs_the_mock(masivo_mock):\n    pass\n")
        result = user_project.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([f"*ServerStartError: cannot listen on 127.0.0.1:{port}: Address already in use*"])


def test_loading_the_plugin_does_not_import_the_server_stack() -> None:
    heavy = ("httpx", "uvicorn", "starlette", "tinydb", "jsonschema_rs")
    probe = f"import sys, mock_masivo.testing.pytest_plugin; print(sorted(m for m in {heavy!r} if m in sys.modules))"
    output = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60)
    assert output.stdout.strip() == "[]"


def test_advance_clock_in_one_test_never_moves_another_tests_clock(user_project: pytest.Pytester) -> None:
    user_project.makepyfile(
        test_clock="""
        import httpx
        from masivo_helpers import migrate, purchase

        def test_first_moves_its_clock_a_day(masivo_mock):
            before = masivo_mock.clock()["offset"]
            assert masivo_mock.advance_clock(86400)["offset"] == before + 86400

        def test_second_still_has_the_servers_time(masivo_mock):
            assert masivo_mock.clock()["offset"] == 0
            token = httpx.get(masivo_mock.base_url + "/auth/authorize",
                              headers={"x-api-key": masivo_mock.api_key}).json()["data"]
            masivo_mock.advance_clock(3601)
            assert migrate(masivo_mock, {"c": [purchase("p")]}, token=token).status_code == 401

        def test_third_moves_to_an_instant(masivo_mock):
            assert masivo_mock.advance_clock(to="2099-01-01T00:00:00Z")["now"].startswith("2099-01-01T00:00:0")
    """
    )
    user_project.runpytest("-p", "no:randomly").assert_outcomes(passed=3)


def test_the_fixture_is_a_typed_client_of_its_own_account(masivo_mock: MasivoMock) -> None:
    """Issue 11: a MockMasivoClient itself, not a wrapper forwarding names through __getattr__."""
    assert isinstance(masivo_mock, MockMasivoClient)
    assert "__getattr__" not in vars(MasivoMock)
    assert masivo_mock.client is masivo_mock
    assert masivo_mock.account.startswith("acc_") and masivo_mock.account != "default"
    assert masivo_mock.base_url == masivo_mock.url + "/api/storefront/v1"
    assert masivo_mock.events() == [] and masivo_mock.health()["status"] == "ok"
