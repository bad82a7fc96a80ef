"""Every customer id the store knows, in first-seen order, per account and across accounts.

`GET /_mock/customers` pages through it: a page costs what it skips and shows, and forgetting an
account costs that account's customers, never the whole store. Dicts keep insertion order, so the
listing order is the order ids were first stored in (any kind); across accounts an id is listed
once, where an account first stored it.
Pure data: the store's lock guards it.
"""

from __future__ import annotations

from itertools import islice


class CustomerList:
    def __init__(self) -> None:
        self._by_account: dict[str, dict[str, None]] = {}
        self._accounts_of: dict[str, int] = {}  # id -> how many accounts know it

    def add(self, account: str, customer_ids: list[str]) -> None:
        mine = self._by_account.get(account)
        if mine is None:
            mine = self._by_account[account] = {}
        for customer_id in customer_ids:
            if customer_id not in mine:
                mine[customer_id] = None
                self._accounts_of[customer_id] = self._accounts_of.get(customer_id, 0) + 1

    def forget(self, account: str) -> None:
        accounts_of = self._accounts_of
        for customer_id in self._by_account.pop(account, {}):
            left = accounts_of[customer_id] - 1
            if left:
                accounts_of[customer_id] = left
            else:
                del accounts_of[customer_id]

    def page(self, account: str | None, limit: int, offset: int) -> tuple[list[str], int]:
        """A page of ids and how many there are, of one account or of all."""
        ids = self._accounts_of if account is None else self._by_account.get(account, {})
        return list(islice(ids, offset, offset + limit)), len(ids)
