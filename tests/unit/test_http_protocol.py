"""The server parses HTTP with httptools held to h11's guarantees, and falls back to h11 when it cannot."""

from __future__ import annotations

import logging

import pytest
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from mock_masivo.config import Settings, uvicorn_config
from mock_masivo.transport import HOOKS, GuardedHttpTools, http_protocol


def test_the_installed_uvicorn_has_every_hook_and_the_server_uses_the_guarded_parser() -> None:
    assert all(hasattr(HttpToolsProtocol, name) for name in HOOKS)
    assert http_protocol() is GuardedHttpTools
    assert uvicorn_config(None, Settings(memory=True)).http is GuardedHttpTools


def test_a_uvicorn_without_a_hook_falls_back_to_h11_and_says_so(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delattr(HttpToolsProtocol, "_should_upgrade")
    with caplog.at_level(logging.WARNING, logger="mock_masivo"):
        assert http_protocol() == "h11"
    assert "lacks _should_upgrade; parsing HTTP with h11" in caplog.text
