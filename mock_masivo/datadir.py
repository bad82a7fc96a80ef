"""The data directory: created and probed at start, owned by one server (lock file), holds the secret."""

from __future__ import annotations

import fcntl
import os
import secrets
from pathlib import Path

from .journal import fsync_dir

LOCK_FILE = "lock"
SECRET_FILE = "jwt-secret"
JOURNAL_FILE = "journal.jsonl"


class DataDirError(Exception):
    """The data directory cannot be used: not creatable, not writable, or owned by another server."""


class DataDir:
    """An opened data directory; keeps its lock until `close()`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.mkdir(parents=True, exist_ok=True)
            self._lock_fd = os.open(path / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise DataDirError(f"cannot use data directory {path}: {exc.strerror}") from None
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._lock_fd)
            raise DataDirError(f"data directory {path} is in use by another mock-masivo server") from None
        self._remove_leftovers()

    @property
    def journal_path(self) -> Path:
        return self.path / JOURNAL_FILE

    def secret(self) -> bytes:
        """The JWT signing secret, created on first use, so tokens survive a restart."""
        path = self.path / SECRET_FILE
        if not path.exists():
            tmp = path.with_name(SECRET_FILE + ".tmp")
            tmp.write_text(secrets.token_hex(32), encoding="ascii")
            os.chmod(tmp, 0o600)
            os.replace(tmp, path)
            fsync_dir(self.path)
        return path.read_text(encoding="ascii").strip().encode("ascii")

    def _remove_leftovers(self) -> None:
        """A crash during a rewrite can leave `*.tmp` files; the live files are authoritative."""
        for leftover in self.path.glob("*.tmp"):
            leftover.unlink()

    def close(self) -> None:
        os.close(self._lock_fd)  # closing releases the flock
