"""mock-masivo: a local emulator of Masivo's REST API for offline integration tests."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "MasivoMock",
    "MockMasivoClient",
    "MockMasivoServer",
    "ServerStartError",
    "Settings",
    "__version__",
    "create_app",
]

if TYPE_CHECKING:
    from .config import ServerStartError, Settings
    from .testing.client import MockMasivoClient
    from .testing.fixture import MasivoMock
    from .testing.server import MockMasivoServer
    from .web.app import create_app

_LAZY = {
    "MasivoMock": "testing.fixture",
    "MockMasivoClient": "testing.client",
    "MockMasivoServer": "testing.server",
    "ServerStartError": "config",
    "Settings": "config",
    "create_app": "web.app",
}


def __getattr__(name: str) -> Any:
    """Imported on first use, so `import mock_masivo` (done by the pytest plugin) stays cheap."""
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'mock_masivo' has no attribute {name!r}")
