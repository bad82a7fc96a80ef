"""MasivoMock: what the `masivo_mock` fixture gives a test.

A MockMasivoClient scoped to the test's own account (every method of the client, typed, is its
own), with the server's URLs and the account's credentials to hand to the code under test.
"""

from __future__ import annotations

from ..config import MASIVO_BASE_PATH
from .client import MockMasivoClient


class MasivoMock(MockMasivoClient):
    account: str  # always one: the test's own

    def __init__(self, url: str, account: dict[str, str]) -> None:
        super().__init__(url, account=account["id"])
        self.base_url = self.url + MASIVO_BASE_PATH
        self.api_key = account["api_key"]
        self.token = account["token"]

    @property
    def client(self) -> MockMasivoClient:
        """The mock itself (it was a wrapper around a client once; tests may still say .client)."""
        return self

    def __repr__(self) -> str:
        return f"<MasivoMock {self.base_url} account={self.account}>"
