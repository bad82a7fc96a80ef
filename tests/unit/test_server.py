"""MockMasivoServer: start, stop, what it exposes, and failing to start clearly instead of hanging."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from payloads import body

from mock_masivo import MockMasivoServer
from mock_masivo.config import Settings, SettingsError
from mock_masivo.testing.server import ServerStartError


def quiet(**changes: object) -> Settings:
    return Settings(memory=True, port=0, log_level="warning").replace(**changes)


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A loopback port another socket is listening on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_started_server_answers_at_once_on_a_free_loopback_port() -> None:
    server = MockMasivoServer().start()
    try:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", server.url)
        assert int(server.url.rsplit(":", 1)[1]) != 0
        assert httpx.get(server.url + "/_mock/health").json()["status"] == "ok"
    finally:
        server.stop()


def test_default_server_keeps_its_data_in_memory() -> None:
    assert MockMasivoServer().settings == Settings(memory=True, port=0, log_level="warning")


def test_base_url_and_default_credentials_reach_the_masivo_routes() -> None:
    with MockMasivoServer() as server:
        assert server.base_url == server.url + "/api/storefront/v1"
        assert (server.api_key, server.token) == ("mock-api-key", "mock-token")
        with httpx.Client(base_url=server.base_url) as http:
            authorized = http.get("/auth/authorize", headers={"x-api-key": server.api_key})
            posted = http.post(
                "/customers/migrate/events", json=body(), headers={"Authorization": f"Bearer {server.token}"}
            )
        assert authorized.status_code == 200
        assert posted.status_code == 201


def test_api_key_and_token_are_the_first_configured_ones() -> None:
    server = MockMasivoServer(quiet(api_keys=("key-1", "key-2"), tokens=("token-1",)))
    assert (server.api_key, server.token) == ("key-1", "token-1")


def test_context_manager_stops_the_server_on_exit() -> None:
    with MockMasivoServer() as server:
        url = server.url
    with pytest.raises(httpx.ConnectError):
        httpx.get(url + "/_mock/health")
    with pytest.raises(RuntimeError, match="the server is not running"):
        server.url  # noqa: B018


def test_client_reads_every_account_and_is_closed_by_stop() -> None:
    with MockMasivoServer() as server:
        client = server.client
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {server.token}"}) as http:
            http.post("/customers/migrate/events", json=body(customers=2))
        assert client is server.client
        assert client.url == server.url
        assert [event["customer_id"] for event in client.events()] == ["c0", "c1"]
    with pytest.raises(RuntimeError, match="closed"):
        client.health()


def test_starting_a_running_server_again_raises_and_keeps_it_serving() -> None:
    with MockMasivoServer() as server:
        url = server.url
        with pytest.raises(RuntimeError, match=f"already running at {re.escape(url)}"):
            server.start()
        assert httpx.get(url + "/_mock/health").status_code == 200


def test_stopped_server_can_start_again() -> None:
    server = MockMasivoServer()
    with server:
        pass
    with server:
        assert httpx.get(server.url + "/_mock/health").status_code == 200


def test_stop_is_idempotent_and_harmless_before_start() -> None:
    server = MockMasivoServer()
    server.stop()
    server.start()
    server.stop()
    server.stop()
    assert repr(server) == "<MockMasivoServer not running>"


@pytest.mark.timeout(15)
def test_taken_port_raises_server_start_error_without_hanging(taken_port: int) -> None:
    server = MockMasivoServer(quiet(port=taken_port))
    expected = f"cannot listen on 127.0.0.1:{taken_port}: Address already in use (another process is listening"
    with pytest.raises(ServerStartError, match=re.escape(expected)):
        server.start()
    with pytest.raises(RuntimeError, match="not running"):
        server.url  # noqa: B018


def test_unassignable_host_raises_server_start_error() -> None:
    server = MockMasivoServer(quiet(host="192.0.2.1", api_keys=("k",), tokens=("t",)))  # TEST-NET-1: not ours
    with pytest.raises(ServerStartError, match=r"cannot listen on 192\.0\.2\.1:0: Cannot assign requested address"):
        server.start()


def test_settings_of_the_wrong_type_are_refused() -> None:
    with pytest.raises(TypeError, match=r"settings must be a mock_masivo\.Settings, got dict"):
        MockMasivoServer({"strict": True})  # type: ignore[arg-type]


def test_unknown_log_level_is_refused_before_anything_starts() -> None:
    refused = r"--log-level \(MOCK_MASIVO_LOG_LEVEL\) must be one of critical, error, warning, info, debug"
    with pytest.raises(SettingsError, match=refused):
        quiet(log_level="loud")


def test_public_host_with_default_credentials_is_refused() -> None:
    with pytest.raises(ServerStartError, match=r"refusing to bind 0\.0\.0\.0 with the default credentials"):
        MockMasivoServer(quiet(host="0.0.0.0")).start()


def test_data_dir_that_is_a_file_is_refused(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("")
    settings = Settings(data=not_a_dir, port=0, log_level="warning")
    with pytest.raises(ServerStartError, match=f"cannot use {re.escape(str(not_a_dir))} as the data directory"):
        MockMasivoServer(settings).start()


def test_data_dir_owned_by_a_running_server_is_refused_and_the_port_released(tmp_path: Path) -> None:
    settings = Settings(data=tmp_path / "data", port=0, log_level="warning")
    with MockMasivoServer(settings):
        second = MockMasivoServer(settings)
        with pytest.raises(ServerStartError, match="is in use by another mock-masivo server"):
            second.start()
    with MockMasivoServer(settings) as third:  # the lock went with the first server
        assert httpx.get(third.url + "/_mock/health").status_code == 200


@pytest.mark.timeout(15)
def test_server_thread_exiting_during_start_up_raises_instead_of_hanging(monkeypatch: pytest.MonkeyPatch) -> None:
    async def exit_like_uvicorn_on_a_failed_start(self: uvicorn.Server, sockets: object = None) -> None:
        raise SystemExit(1)  # what uvicorn does inside the thread when start-up fails (uvicorn #742)

    monkeypatch.setattr(uvicorn.Server, "startup", exit_like_uvicorn_on_a_failed_start)
    server = MockMasivoServer()
    with pytest.raises(ServerStartError, match=r"mock-masivo exited during start-up \(SystemExit\(1\)\)"):
        server.start()
    monkeypatch.undo()
    with server:  # nothing half-started is left behind
        assert httpx.get(server.url + "/_mock/health").status_code == 200
