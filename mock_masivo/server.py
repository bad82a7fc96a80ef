"""MockMasivoServer: the real server (uvicorn) in a background thread, on a free loopback port."""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType
from typing import TYPE_CHECKING, Any

import uvicorn

from .settings import MASIVO_BASE_PATH, Settings

if TYPE_CHECKING:
    from .client import MockMasivoClient

START_TIMEOUT_SECONDS = 10.0


class ServerStartError(RuntimeError):
    """The server could not start: port taken, bad settings, unusable data directory."""


def bind_socket(host: str, port: int) -> socket.socket:
    """Bind before serving, so a taken port fails here and port 0 tells which port it got."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def uvicorn_config(app: Any, settings: Settings) -> uvicorn.Config:
    # h11 keeps parsing (and its 16 KiB header limit) predictable; one worker because the store is
    # single-writer; a bounded shutdown so a stuck client cannot hang it.
    return uvicorn.Config(app, host=settings.host, port=settings.port, log_level=settings.log_level, http="h11",
                          workers=1, timeout_graceful_shutdown=10, limit_concurrency=256, lifespan="on")


class MockMasivoServer:
    """A running mock on loopback for tests and scripts; memory store and a free port by default.

        with MockMasivoServer() as server:
            requests.post(server.base_url + "/customers/migrate/events", ...)
            assert server.client.events()
    """

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings(memory=True, port=0, log_level="warning")
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None
        self._client: MockMasivoClient | None = None
        self.app: Any = None

    @property
    def url(self) -> str:
        if self._port is None:
            raise RuntimeError("the server is not running; call start() or use it as a context manager")
        host = f"[{self.settings.host}]" if ":" in self.settings.host else self.settings.host
        return f"http://{host}:{self._port}"

    @property
    def base_url(self) -> str:
        return self.url + MASIVO_BASE_PATH

    @property
    def api_key(self) -> str:
        return self.settings.api_keys[0]

    @property
    def token(self) -> str:
        return self.settings.tokens[0]

    @property
    def client(self) -> MockMasivoClient:
        from .client import MockMasivoClient

        if self._client is None:
            self._client = MockMasivoClient(self.url)
        return self._client

    def start(self) -> MockMasivoServer:
        if self._thread is not None:
            raise RuntimeError("this MockMasivoServer is already running; create another one")
        from .app import create_app

        try:
            sock = bind_socket(self.settings.host, self.settings.port)
        except OSError as exc:
            where = f"{self.settings.host}:{self.settings.port}"
            raise ServerStartError(f"cannot listen on {where}: {exc.strerror}") from None
        try:
            self.app = create_app(self.settings)
        except Exception as exc:
            sock.close()
            raise ServerStartError(f"cannot start mock-masivo: {exc}") from exc
        self._port = sock.getsockname()[1]
        self._server = uvicorn.Server(uvicorn_config(self.app, self.settings))
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]},
                                        name=f"mock-masivo:{self._port}", daemon=True)
        self._thread.start()
        self._wait_until_started(sock)
        return self

    def _wait_until_started(self, sock: socket.socket) -> None:
        assert self._server is not None and self._thread is not None
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not self._server.started:
            # uvicorn calls sys.exit inside the thread when start-up fails (uvicorn #742).
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self._server.should_exit = True
                self._thread.join(START_TIMEOUT_SECONDS)
                sock.close()
                self._thread, self._port = None, None
                raise ServerStartError("mock-masivo did not start; see the log above")
            time.sleep(0.005)

    def stop(self) -> None:
        if self._server is None or self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(START_TIMEOUT_SECONDS)
        if self._client is not None:
            self._client.close()
        self._server, self._thread, self._port, self._client = None, None, None, None

    def __enter__(self) -> MockMasivoServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()
