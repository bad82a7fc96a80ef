"""Settings, the one frozen object every part of the server is configured from, and start-up.

Defaults live here and nowhere else. `Settings.from_env` reads `MOCK_MASIVO_*` variables; the CLI
starts from it and replaces what was given on the command line. Both ways of starting a server,
`mock-masivo serve` and `MockMasivoServer`, check, bind and configure uvicorn with the functions at
the end of this module.
"""

from __future__ import annotations

import dataclasses
import errno
import math
import socket
from collections.abc import Mapping
from dataclasses import InitVar, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import uvicorn

DEFAULT_ACCOUNT = "default"  # the account the default and --api-key / --token credentials belong to
DEFAULT_API_KEY = "mock-api-key"
DEFAULT_TOKEN = "mock-token"
DEFAULT_DATA_DIR = Path(".mock-masivo")
ENV_PREFIX = "MOCK_MASIVO_"
MASIVO_BASE_PATH = "/api/storefront/v1"
MAX_HEADER_BYTES = 16 * 1024  # a request's headers, as the README promises (web/guard.py, transport.py)
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
RATE_LIMIT_MODES = ("off", "dev", "prod")
LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")

# Variables are named after the CLI flags: --api-key is MOCK_MASIVO_API_KEY.
_FLAG_NAMES = {"api_keys": "api_key", "tokens": "token", "allowed_hosts": "allowed_host"}
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})


class SettingsError(ValueError):
    """A setting has a value the server cannot run with."""


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8642
    # None with memory=False means DEFAULT_DATA_DIR under the working directory.
    data: Path | None = None
    memory: bool = False
    api_keys: tuple[str, ...] = (DEFAULT_API_KEY,)
    tokens: tuple[str, ...] = (DEFAULT_TOKEN,)
    token_ttl: int = 3600
    max_body_bytes: int = 8 * 1024 * 1024
    strict: bool = False
    log_level: str = "info"
    request_log_size: int = 10_000  # calls the in-memory request log keeps, newest first
    # fsync before every 201; off only for throwaway runs (survives a process crash, not power loss).
    fsync: bool = True
    rate_limit: str = "off"  # off | dev | prod: Masivo's limits on migration endpoints
    processing_delay: float = 0.0  # seconds an accepted event stays QUEUED on the server clock
    latency_ms: int = 0  # added before every answer of a Masivo-compatible route
    parse_workers: int = 0  # processes that parse and validate batches (0: in the server's own process)
    refused_bodies_bytes: int = 64 * 1024 * 1024  # bodies of refused requests the request log keeps
    # Host names the server answers to besides IP addresses, localhost and --host (DNS rebinding guard).
    allowed_hosts: tuple[str, ...] = ()
    # The old name of request_log_size (--journal-size, MOCK_MASIVO_JOURNAL_SIZE), still accepted.
    journal_size: InitVar[int | None] = None

    def __post_init__(self, journal_size: int | None) -> None:
        if journal_size is not None:
            self._take_old_name(journal_size)
        if self.memory and self.data is not None:
            raise SettingsError("--data and --memory exclude each other: pick one")
        for name in ("token_ttl", "max_body_bytes", "request_log_size", "refused_bodies_bytes"):
            if getattr(self, name) < 1:
                raise SettingsError(f"{setting(name)} must be at least 1, got {getattr(self, name)}")
        if not 0 <= self.parse_workers <= 64:
            raise SettingsError(f"{setting('parse_workers')} must be from 0 to 64, got {self.parse_workers}")
        for name in ("processing_delay", "latency_ms"):
            if not 0 <= getattr(self, name) < 10**9:
                raise SettingsError(f"{setting(name)} must be 0 or more, got {getattr(self, name)}")
        if self.log_level.lower() not in LOG_LEVELS:
            raise SettingsError(
                f"{setting('log_level')} must be one of {', '.join(LOG_LEVELS)}, got {self.log_level!r}"
            )
        if self.rate_limit not in RATE_LIMIT_MODES:
            raise SettingsError(
                f"{setting('rate_limit')} must be one of {', '.join(RATE_LIMIT_MODES)}, got {self.rate_limit!r}"
            )
        if not 0 <= self.port <= 65535:
            raise SettingsError(f"{setting('port')} must be between 0 and 65535, got {self.port}")
        for name in ("api_keys", "tokens"):
            _check_credentials(name, getattr(self, name))

    def _take_old_name(self, journal_size: int) -> None:
        if journal_size < 1:
            raise SettingsError(f"{setting('journal_size')} must be at least 1, got {journal_size}")
        object.__setattr__(self, "request_log_size", journal_size)

    @property
    def data_dir(self) -> Path | None:
        """Where the journal lives, or None for an in-memory store."""
        if self.memory:
            return None
        return self.data if self.data is not None else DEFAULT_DATA_DIR

    @property
    def uses_default_credentials(self) -> bool:
        return DEFAULT_API_KEY in self.api_keys or DEFAULT_TOKEN in self.tokens

    @property
    def is_loopback(self) -> bool:
        return self.host in LOOPBACK_HOSTS or self.host.startswith("127.")

    def replace(self, **changes: object) -> Settings:
        """These settings with `changes`; setting `memory` clears `data` and setting `data` clears
        `memory` unless the other is changed too (a flag replaces what a variable chose)."""
        if changes.get("memory"):
            changes.setdefault("data", None)
        if changes.get("data") is not None:
            changes.setdefault("memory", False)
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """Settings from `MOCK_MASIVO_<FLAG>` variables; unset ones keep their defaults."""
        changes: dict[str, object] = {}
        for name in (*(field.name for field in dataclasses.fields(cls)), "journal_size"):
            raw = environ.get(env_name(name))
            if raw is not None:
                changes[name] = _parse_field(name, raw)
        one_of(changes, "request_log_size", "journal_size")
        return cls(**changes)  # type: ignore[arg-type]


def one_of(given: Mapping[str, object], name: str, old_name: str) -> None:
    if name in given and old_name in given:
        raise SettingsError(f"{setting(old_name)} is the old name of {setting(name)}: set one of them")


def flag_name(field_name: str) -> str:
    return "--" + _FLAG_NAMES.get(field_name, field_name).replace("_", "-")


def setting(field_name: str) -> str:
    """How a person names a setting, whichever way they set it: `--token-ttl (MOCK_MASIVO_TOKEN_TTL)`."""
    return f"{flag_name(field_name)} ({env_name(field_name)})"


def _check_credentials(name: str, values: tuple[str, ...]) -> None:
    """Keys and tokens travel in HTTP headers: visible ASCII only, or no client could ever send them."""
    if not values:
        raise SettingsError(f"{setting(name)} needs at least one value")
    for value in values:
        if not value or not all("!" <= char <= "~" for char in value):
            raise SettingsError(
                f"{setting(name)} must be visible ASCII characters with no spaces (an HTTP header "
                f"carries nothing else reliably, and its spaces are trimmed), got {value[:64]!r}"
            )


def env_name(field_name: str) -> str:
    return ENV_PREFIX + _FLAG_NAMES.get(field_name, field_name).upper()


def _parse_field(name: str, raw: str) -> object:
    default = getattr(Settings, name, None)
    if name == "data":
        return Path(raw) if raw else None
    if name == "journal_size":  # the old name of request_log_size
        return parse_int(name, raw)
    if isinstance(default, bool):
        return parse_bool(name, raw)
    if isinstance(default, int):
        return parse_int(name, raw)
    if isinstance(default, float):
        return parse_float(name, raw)
    if isinstance(default, tuple):
        return parse_list(raw)
    return raw


def parse_bool(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise SettingsError(f"{env_name(name)} must be one of 1/true/yes/on or 0/false/no/off, got {raw!r}")


def parse_int(name: str, raw: str) -> int:
    try:
        return int(raw.strip())
    except ValueError:
        raise SettingsError(f"{env_name(name)} must be a whole number, got {raw!r}") from None


def parse_float(name: str, raw: str) -> float:
    try:
        value = float(raw.strip())
    except ValueError:
        raise SettingsError(f"{env_name(name)} must be a number, got {raw!r}") from None
    if not math.isfinite(value):
        raise SettingsError(f"{env_name(name)} must be a finite number, got {raw!r}")
    return value


def parse_list(raw: str) -> tuple[str, ...]:
    """Comma-separated list; blanks around items are ignored."""
    return tuple(item.strip() for item in raw.split(",") if item.strip())


# -- start-up ------------------------------------------------------------------------------------


class ServerStartError(RuntimeError):
    """The server could not start: port taken, bad settings, unusable data directory."""


def refuse_public_default_credentials(settings: Settings) -> None:
    """Beyond loopback, a default credential would let in anyone who can reach the machine."""
    if settings.is_loopback:
        return
    still = [
        f"{flag} (still {default})"
        for flag, default, values in (
            ("--api-key / MOCK_MASIVO_API_KEY", DEFAULT_API_KEY, settings.api_keys),
            ("--token / MOCK_MASIVO_TOKEN", DEFAULT_TOKEN, settings.tokens),
        )
        if default in values
    ]
    if still:
        raise ServerStartError(
            f"refusing to bind {settings.host} with the default credentials, which anyone who can reach this "
            f"machine could use: set {' and '.join(still)} to a value of your own."
        )


def listen(settings: Settings, named: str = "") -> socket.socket:
    """Bind before serving, so a taken port fails here and port 0 tells which port it got. `named`:
    how the caller set host and port, said in the error."""
    try:
        return bind_socket(settings.host, settings.port)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        if exc.errno == errno.EADDRINUSE:
            reason += " (another process is listening there; use port 0 for a free one)"
        raise ServerStartError(f"cannot listen on {settings.host}:{settings.port}{named}: {reason}") from None


def bind_socket(host: str, port: int) -> socket.socket:
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


def url_of(host: str, port: int) -> str:
    """`http://host:port`, an IPv6 address in brackets."""
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def uvicorn_config(app: Any, settings: Settings, **overrides: Any) -> uvicorn.Config:
    import uvicorn  # here: the pytest plugin imports this module, and must stay light

    from .transport import http_protocol

    # httptools, held to h11's guarantees (transport.py); one worker because the store is
    # single-writer; a bounded shutdown so a stuck client cannot hang it.
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_level": settings.log_level,
        "http": http_protocol(),
        "workers": 1,
        "timeout_graceful_shutdown": 10,
        "limit_concurrency": 256,
        "lifespan": "on",
        **overrides,
    }
    return uvicorn.Config(app, **options)
