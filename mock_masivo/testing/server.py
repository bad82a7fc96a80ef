"""MockMasivoServer: the real server (uvicorn) in a background thread, on a free loopback port.

The socket is bound before the thread starts, so a taken port fails in the caller's thread with a
clear error, and port 0 tells which port it got. Start-up is awaited with a deadline while checking
that the thread is alive: uvicorn calls sys.exit inside the thread when start-up fails (uvicorn #742).
"""

from __future__ import annotations

import errno
import logging
import socket
import threading
import time
from types import TracebackType
from typing import TYPE_CHECKING, Any

import uvicorn

from ..config import MASIVO_BASE_PATH, Settings

if TYPE_CHECKING:
    from .client import MockMasivoClient

log = logging.getLogger("mock_masivo")

START_TIMEOUT_SECONDS = 10.0
STOP_TIMEOUT_SECONDS = 15.0
POLL_SECONDS = 0.005


class ServerStartError(RuntimeError):
    """The server could not start: port taken, bad settings, unusable data directory."""


def bind_socket(host: str, port: int) -> socket.socket:
    """Bind before serving, so a taken port fails here and port 0 tells which port it got."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto must say TCP: asyncio sets TCP_NODELAY on accepted sockets only then, and without it
    # every answer (headers and body are written separately) waits ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def uvicorn_config(app: Any, settings: Settings, **overrides: Any) -> uvicorn.Config:
    # h11 keeps parsing (and its 16 KiB header limit) predictable; one worker because the store is
    # single-writer; a bounded shutdown so a stuck client cannot hang it.
    options: dict[str, Any] = {"host": settings.host, "port": settings.port, "log_level": settings.log_level,
                               "http": "h11", "workers": 1, "timeout_graceful_shutdown": 10,
                               "limit_concurrency": 256, "lifespan": "on", **overrides}
    return uvicorn.Config(app, **options)


def check_startable(settings: Settings) -> None:
    """Refuse settings that would only fail in front of the public (Settings checks the rest itself)."""
    if not settings.is_loopback and settings.uses_default_credentials:
        raise ServerStartError(f"refusing to bind {settings.host} with the default credentials (mock-api-key / "
                               "mock-token); set api_keys and tokens of your own")


class MockMasivoServer:
    """A running mock on loopback for tests and scripts; memory store and a free port by default.

        with MockMasivoServer() as server:
            requests.post(server.base_url + "/customers/migrate/events", ...)
            assert server.client.events()
    """

    def __init__(self, settings: Settings | None = None) -> None:
        if settings is not None and not isinstance(settings, Settings):
            raise TypeError(f"settings must be a mock_masivo.Settings, got {type(settings).__name__}")
        self.settings = settings if settings is not None else Settings(memory=True, port=0, log_level="warning")
        self.app: Any = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None
        self._client: MockMasivoClient | None = None
        self._failure: BaseException | None = None

    @property
    def url(self) -> str:
        """`http://127.0.0.1:PORT`: where the inspection API (/_mock) and the Masivo routes are served."""
        if self._port is None:
            raise RuntimeError("the server is not running; call start() or use it as a context manager")
        host = f"[{self.settings.host}]" if ":" in self.settings.host else self.settings.host
        return f"http://{host}:{self._port}"

    @property
    def base_url(self) -> str:
        """What to give a Masivo client instead of https://app.masivo.ai/api/storefront/v1."""
        return self.url + MASIVO_BASE_PATH

    @property
    def api_key(self) -> str:
        return self.settings.api_keys[0]

    @property
    def token(self) -> str:
        return self.settings.tokens[0]

    @property
    def client(self) -> MockMasivoClient:
        """An inspection client for the whole server (every account); closed by stop()."""
        from .client import MockMasivoClient

        if self._client is None:
            self._client = MockMasivoClient(self.url)
        return self._client

    def start(self) -> MockMasivoServer:
        """Serve in a daemon thread; returns once the server answers, or raises ServerStartError."""
        if self._thread is not None:
            raise RuntimeError(f"this MockMasivoServer is already running at {self.url}; create another one")
        check_startable(self.settings)
        sock = self._bind()
        try:
            self._launch(sock)
            self._wait_until_started()
        except BaseException:
            self._abandon(sock)
            raise
        return self

    def _bind(self) -> socket.socket:
        try:
            return bind_socket(self.settings.host, self.settings.port)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            if exc.errno == errno.EADDRINUSE:
                reason += " (another process is listening there; use port=0 for a free port)"
            raise ServerStartError(f"cannot listen on {self.settings.host}:{self.settings.port}: {reason}") from None

    def _launch(self, sock: socket.socket) -> None:
        from ..storage.datadir import DataDirError
        from ..storage.journal import CorruptJournal
        from ..web.app import create_app

        self.app = None
        try:
            self.app = create_app(self.settings, served=True)
        except (DataDirError, CorruptJournal, OSError) as exc:
            raise ServerStartError(f"cannot start mock-masivo: {exc}") from exc
        # log_config=None: no dictConfig of the host process's logging; uvicorn's records propagate (to caplog).
        self._server = uvicorn.Server(uvicorn_config(self.app, self.settings, log_config=None))
        self._port = sock.getsockname()[1]
        self._failure = None
        self._thread = threading.Thread(target=self._serve, args=(self._server, sock),
                                        name=f"mock-masivo:{self._port}", daemon=True)
        self._thread.start()

    def _serve(self, server: uvicorn.Server, sock: socket.socket) -> None:
        try:
            server.run(sockets=[sock])
        except BaseException as exc:  # SystemExit on a failed start-up; kept for start() to report
            self._failure = exc
            if not isinstance(exc, SystemExit):
                log.exception("mock-masivo server thread failed")

    def _wait_until_started(self) -> None:
        assert self._server is not None and self._thread is not None
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not self._server.started:
            if not self._thread.is_alive():
                raise ServerStartError(f"mock-masivo exited during start-up ({self._failure!r}); "
                                       "uvicorn logs the cause on the 'uvicorn.error' logger")
            if time.monotonic() > deadline:
                raise ServerStartError(f"mock-masivo did not start within {START_TIMEOUT_SECONDS:g} s")
            time.sleep(POLL_SECONDS)

    def _abandon(self, sock: socket.socket) -> None:
        """Undo a failed start: stop the thread, close the socket and the store."""
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(STOP_TIMEOUT_SECONDS)
        sock.close()
        if self.app is not None:
            self.app.state.services.close()
        self._server, self._thread, self._port = None, None, None

    def stop(self) -> None:
        """Stop serving and wait for the thread; calling it again (or before start) does nothing."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        if self._client is not None:
            self._client.close()  # closes keep-alive connections first, so shutdown does not wait on them
        server.should_exit = True
        thread.join(STOP_TIMEOUT_SECONDS)
        if thread.is_alive():
            log.warning("mock-masivo server thread did not stop within %s s", STOP_TIMEOUT_SECONDS)
        self._server, self._thread, self._port, self._client = None, None, None, None

    def __enter__(self) -> MockMasivoServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.url if self._port is not None else "not running"
        return f"<MockMasivoServer {where}>"
