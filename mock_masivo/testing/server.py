"""MockMasivoServer: the real server (uvicorn) in a background thread, on a free loopback port.

The socket is bound before the thread starts, so a taken port fails in the caller's thread with a
clear error, and port 0 tells which port it got. Start-up is awaited with a deadline while checking
that the thread is alive: uvicorn calls sys.exit inside the thread when start-up fails (uvicorn #742).
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from types import TracebackType
from typing import TYPE_CHECKING, Any

import uvicorn

from ..config import (
    MASIVO_BASE_PATH,
    ServerStartError,
    Settings,
    listen,
    refuse_public_default_credentials,
    url_of,
    uvicorn_config,
)

if TYPE_CHECKING:
    from .client import MockMasivoClient

__all__ = ["MockMasivoServer", "ServerStartError"]

log = logging.getLogger("mock_masivo")

START_TIMEOUT_SECONDS = 10.0
STOP_TIMEOUT_SECONDS = 15.0
POLL_SECONDS = 0.005


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
        return url_of(self.settings.host, self._port)

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
        refuse_public_default_credentials(self.settings)
        sock = listen(self.settings)
        try:
            self._launch(sock)
            self._wait_until_started()
        except BaseException:
            self._abandon(sock)
            raise
        return self

    def _launch(self, sock: socket.socket) -> None:
        from ..storage.store import OPEN_ERRORS
        from ..web.app import create_app

        self.app = None
        try:
            self.app = create_app(self.settings, served=True)
        except OPEN_ERRORS as exc:
            raise ServerStartError(f"cannot start mock-masivo: {exc}") from exc
        # log_config=None: no dictConfig of the host process's logging; uvicorn's records propagate (to caplog).
        self._server = uvicorn.Server(uvicorn_config(self.app, self.settings, log_config=None))
        self._port = sock.getsockname()[1]
        self._failure = None
        self._thread = threading.Thread(
            target=self._serve, args=(self._server, sock), name=f"mock-masivo:{self._port}", daemon=True
        )
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
                raise ServerStartError(
                    f"mock-masivo exited during start-up ({self._failure!r}); "
                    "uvicorn logs the cause on the 'uvicorn.error' logger"
                )
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

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.url if self._port is not None else "not running"
        return f"<MockMasivoServer {where}>"
