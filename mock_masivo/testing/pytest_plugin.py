"""pytest fixtures for testing code that talks to Masivo (registered through the pytest11 entry point).

    def test_migration(masivo_mock):
        run_my_migration(base_url=masivo_mock.base_url, api_key=masivo_mock.api_key)
        masivo_mock.assert_received(customer_id="c-1", count=3)

One server runs per test session (per xdist worker); every test gets a fresh account on it, so it
sees only its own data. `@pytest.mark.masivo(strict=True)` gives a test its own server with those
settings. `--masivo-url` / $MOCK_MASIVO_URL uses an already running server instead. Heavy modules
are imported inside the fixtures: this module is imported at every pytest start, whether or not a
test uses it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, NoReturn

import pytest

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from ..config import Settings
    from .fixture import MasivoMock
    from .server import MockMasivoServer

URL_ENV = "MOCK_MASIVO_URL"
MARKER = "masivo"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mock-masivo")
    group.addoption(
        "--masivo-url",
        default=None,
        metavar="URL",
        help=f"use an already running mock-masivo at URL instead of starting one (or ${URL_ENV})",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(**settings): run this test against its own mock-masivo server "
        "started with these Settings fields (e.g. strict=True, token_ttl=60)",
    )


@pytest.fixture(scope="session")
def masivo_settings() -> Settings:
    """Settings of the session's server; override this (session-scoped) fixture to change them."""
    from ..config import Settings

    return Settings(memory=True, port=0, log_level="warning")


@pytest.fixture(scope="session")
def masivo_server_url(request: pytest.FixtureRequest, masivo_settings: Settings) -> Iterator[str]:
    """The URL of the session's server: --masivo-url / $MOCK_MASIVO_URL, or one started here."""
    external = _external_url(request.config)
    if external is not None:
        _check_reachable(external)
        yield external
        return
    with _server(masivo_settings) as server:
        yield server.url


@pytest.fixture
def masivo_mock(request: pytest.FixtureRequest) -> Iterator[MasivoMock]:
    """A fresh account on the session's server (or a dedicated server under @pytest.mark.masivo)."""
    marker = request.node.get_closest_marker(MARKER)
    if marker is not None:
        settings = _marker_settings(request.getfixturevalue("masivo_settings"), marker)
        with _server(settings) as server:
            yield from _default_account(server)
        return
    url: str = request.getfixturevalue("masivo_server_url")
    yield from _fresh_account(url, cleanup=_external_url(request.config) is None)


@pytest.fixture
def masivo_app(request: pytest.FixtureRequest, masivo_settings: Settings) -> Iterator[Starlette]:
    """The ASGI app, for in-process tests through httpx.ASGITransport (no sockets, no threads)."""
    from ..web.app import create_app

    marker = request.node.get_closest_marker(MARKER)
    app = create_app(masivo_settings if marker is None else _marker_settings(masivo_settings, marker))
    yield app
    app.state.services.close()


def _fresh_account(url: str, cleanup: bool) -> Iterator[MasivoMock]:
    from .client import MockMasivoClient
    from .fixture import MasivoMock

    with MockMasivoClient(url) as server:
        account = server.new_account()
    with MasivoMock(url, account) as mock:
        yield mock
        if cleanup:  # the session's server keeps no data or fault rules of finished tests
            mock.reset()
            mock.clear_faults()


def _default_account(server: MockMasivoServer) -> Iterator[MasivoMock]:
    from ..config import DEFAULT_ACCOUNT
    from .fixture import MasivoMock

    account = {"id": DEFAULT_ACCOUNT, "api_key": server.api_key, "token": server.token}
    with MasivoMock(server.url, account) as mock:
        yield mock


def _server(settings: Settings) -> MockMasivoServer:
    from .server import MockMasivoServer

    return MockMasivoServer(settings)


def _external_url(config: pytest.Config) -> str | None:
    url = config.getoption("--masivo-url") or os.environ.get(URL_ENV)
    return url.rstrip("/") if url else None


def _check_reachable(url: str) -> None:
    import httpx

    try:
        response = httpx.get(url + "/_mock/health", timeout=10)
    except httpx.HTTPError as exc:
        _fail(f"no mock-masivo answers at {url} (--masivo-url / ${URL_ENV}): {exc}")
    if response.status_code != 200:
        _fail(f"{url} (--masivo-url / ${URL_ENV}) is not a mock-masivo: GET /_mock/health -> {response.status_code}")


def _marker_settings(base: Settings, marker: pytest.Mark) -> Settings:
    """The session's settings with the marker's fields, on a free port."""
    from ..config import Settings, SettingsError

    fields = Settings.__dataclass_fields__  # journal_size, the old name of request_log_size, too
    if marker.args:
        _fail(f"@pytest.mark.{MARKER} takes settings as keywords (e.g. strict=True), got {marker.args!r}")
    unknown = sorted(set(marker.kwargs) - set(fields))
    if unknown:
        _fail(f"@pytest.mark.{MARKER} got unknown setting(s) {', '.join(unknown)}; known: {', '.join(fields)}")
    changes = {"port": 0, **{name: _as_field(base, name, value) for name, value in marker.kwargs.items()}}
    try:
        return base.replace(**changes)
    except SettingsError as exc:
        _fail(f"@pytest.mark.{MARKER}: {exc}")


def _as_field(base: Settings, name: str, value: Any) -> Any:
    """`api_keys="k"` and `tokens=["t"]` mean the tuples ("k",) and ("t",)."""
    if isinstance(getattr(base, name, None), tuple):
        return (value,) if isinstance(value, str) else tuple(value)
    return value


def _fail(message: str) -> NoReturn:
    pytest.fail(message, pytrace=False)
