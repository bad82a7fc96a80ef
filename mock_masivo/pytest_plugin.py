"""pytest fixtures for testing code that talks to Masivo (registered through the pytest11 entry point).

    def test_migration(masivo_mock):
        run_my_migration(base_url=masivo_mock.base_url, api_key=masivo_mock.api_key)
        masivo_mock.assert_received(customer_id="c-1", count=3)

One server runs per test session (per xdist worker); every test gets a fresh account on it, so it
sees only its own data. Heavy modules are imported inside the fixtures: this module is imported at
every pytest start, whether or not a test uses it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from .client import MockMasivoClient
    from .server import MockMasivoServer
    from .settings import Settings

URL_ENV = "MOCK_MASIVO_URL"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mock-masivo")
    group.addoption("--masivo-url", default=None,
                    help=f"Use an already running mock-masivo at this URL instead of starting one (or ${URL_ENV}).")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "masivo(**settings): run this test against its own mock-masivo server "
                                       "started with these Settings fields (e.g. strict=True, token_ttl=60)")


class MasivoMock:
    """What a test sees: the server's URLs, its own account's credentials, and a client scoped to it."""

    def __init__(self, url: str, account: dict[str, str], client: MockMasivoClient) -> None:
        from .settings import MASIVO_BASE_PATH

        self.url = url
        self.base_url = url + MASIVO_BASE_PATH
        self.account = account["id"]
        self.api_key = account["api_key"]
        self.token = account["token"]
        self.client = client

    def __getattr__(self, name: str) -> Any:
        # events, customer, customers, batches, requests, reset, assert_received, assert_no_rejections,
        # wait_for_events: all scoped to this test's account.
        return getattr(self.client, name)

    def __repr__(self) -> str:
        return f"<MasivoMock {self.base_url} account={self.account}>"


@pytest.fixture(scope="session")
def masivo_settings() -> Settings:
    """Settings of the session's server; override this fixture to change them."""
    from .settings import Settings

    return Settings(memory=True, port=0, log_level="warning")


@pytest.fixture(scope="session")
def masivo_server_url(request: pytest.FixtureRequest, masivo_settings: Settings) -> Iterator[str]:
    """The URL of the session's server: --masivo-url / $MOCK_MASIVO_URL, or one started here."""
    external = request.config.getoption("--masivo-url") or os.environ.get(URL_ENV)
    if external:
        yield external.rstrip("/")
        return
    with _server(masivo_settings) as server:
        yield server.url


@pytest.fixture
def masivo_mock(request: pytest.FixtureRequest) -> Iterator[MasivoMock]:
    """A fresh account on the session's server (or a dedicated server under @pytest.mark.masivo)."""
    from .client import MockMasivoClient

    marker = request.node.get_closest_marker("masivo")
    if marker is not None:
        with _server(request.getfixturevalue("masivo_settings").replace(**marker.kwargs)) as server:
            yield _mock_for(server.url, MockMasivoClient)
        return
    yield _mock_for(request.getfixturevalue("masivo_server_url"), MockMasivoClient)


def _mock_for(url: str, client_class: type[MockMasivoClient]) -> MasivoMock:
    with client_class(url) as admin:
        account = admin.new_account()
    return MasivoMock(url, account, client_class(url, account=account["id"]))


def _server(settings: Settings) -> MockMasivoServer:
    from .server import MockMasivoServer

    return MockMasivoServer(settings)


@pytest.fixture
def masivo_app(masivo_settings: Settings) -> Iterator[Starlette]:
    """The ASGI app, for in-process tests through httpx.ASGITransport (no sockets, no threads)."""
    from .app import create_app

    app = create_app(masivo_settings)
    yield app
    app.state.services.close()
