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
TEMPORARY_FILES = (SECRET_FILE + ".tmp", JOURNAL_FILE + ".tmp")  # written, fsynced, then renamed over the live file


class DataDirError(Exception):
    """The data directory cannot be used: not creatable, not writable, or owned by another server."""


class DataDir:
    """An opened data directory; keeps its lock until `close()`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        if path.exists() and not path.is_dir():
            raise DataDirError(
                f"cannot use {path} as the data directory (--data / MOCK_MASIVO_DATA): it is a file, not a directory"
            )
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
        secret = path.read_bytes().strip() if path.exists() else b""
        if not secret:  # also when a crash before its fsync left it empty
            secret = secrets.token_hex(32).encode("ascii")
            tmp = path.with_name(SECRET_FILE + ".tmp")
            with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as file:
                file.write(secret)
                file.flush()
                os.fsync(file.fileno())  # before the rename, or a power loss can leave an empty secret
            os.replace(tmp, path)
            fsync_dir(self.path)
        return secret

    def _remove_leftovers(self) -> None:
        """A crash during a rewrite can leave the server's own temporary files; the live files are
        authoritative. Other files are the user's: they stay."""
        for name in TEMPORARY_FILES:
            leftover = self.path / name
            if leftover.is_file():
                leftover.unlink()

    def close(self) -> None:
        os.close(self._lock_fd)  # closing releases the flock
