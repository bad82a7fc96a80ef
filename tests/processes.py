"""Real servers in child processes (so they can be SIGKILLed) and helpers to read them back."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

START_SECONDS = 60.0  # replaying a big journal on a busy CI machine takes a while
URL_LINE = re.compile(r"URL:\s+(http://\S+)")


class ServerProcess:
    """`python -m mock_masivo serve --data DIR --port 0` in a child process, so that it can be SIGKILLed.

    Output goes to files (a full pipe would block the server); the URL is read from the banner.
    """

    def __init__(self, data: Path, *args: str) -> None:
        self.data = data
        self.args = args
        self.out = data.parent / f"{data.name}.out"
        self.err = data.parent / f"{data.name}.err"
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "mock_masivo",
            "serve",
            "--data",
            str(self.data),
            "--port",
            "0",
            "--log-level",
            "warning",
            *self.args,
        ]

    def start(self) -> ServerProcess:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        with self.out.open("wb") as out, self.err.open("wb") as err:
            self.process = subprocess.Popen(self.command(), stdout=out, stderr=err, env=env)
        try:
            self.url = self._wait_for_banner()
            self._wait_until_healthy()
        except BaseException:
            self.kill()
            raise
        return self

    def _wait_for_banner(self) -> str:
        assert self.process is not None
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            found = URL_LINE.search(self.out.read_text(encoding="utf-8", errors="replace"))
            if found:
                return found.group(1)
            if self.process.poll() is not None:
                break
            time.sleep(0.02)  # polling the banner file, with a deadline
        self.kill()  # so that output() reports the exit code
        raise AssertionError(f"server did not start: {self.output()}")

    def _wait_until_healthy(self) -> None:
        deadline = time.monotonic() + START_SECONDS
        while True:
            try:
                if httpx.get(self.url + "/_mock/health", timeout=5).status_code == 200:
                    return
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.02)  # polling readiness, with a deadline

    def output(self) -> str:
        return (
            f"exit code {self.process.returncode if self.process else None}; stdout: "
            f"{self.out.read_text(errors='replace')!r}; stderr: {self.err.read_text(errors='replace')!r}"
        )

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a crash."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        if self.process is not None:
            self.process.wait(timeout=30)

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.kill()


def fetch_all(client: httpx.Client, path: str, **filters: str) -> list[dict[str, Any]]:
    """Every item of an inspection listing, page by page (nothing writes while this runs)."""
    items: list[dict[str, Any]] = []
    while True:
        response = client.get(path, params={**filters, "limit": 1000, "offset": len(items)})
        assert response.status_code == 200, response.text
        page = response.json()
        items.extend(page["data"])
        if len(items) >= page["total"]:
            return items
