"""The dry-run report as tables a person reads in a terminal (`mock-masivo report`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

KINDS = ("profile", "transaction", "event")


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    """Left-aligned text columns, numbers right-aligned, with a rule under the headers."""
    cells = [[str(value) for value in row] for row in rows]
    widths = [max(len(str(header)), *(len(row[i]) for row in cells)) for i, header in enumerate(headers)]
    numeric = [all(isinstance(row[i], int) for row in rows) and bool(rows) for i in range(len(headers))]

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            value.rjust(width) if right else value.ljust(width)
            for value, width, right in zip(values, widths, numeric, strict=True)
        ).rstrip()

    return [line(headers), line(["-" * width for width in widths]), *(line(row) for row in cells)]


def render(report: dict[str, Any], account: str | None = None) -> str:
    requests = report["requests"]
    statuses = ", ".join(f"{status}: {count}" for status, count in requests["by_status"].items()) or "none"
    lines = [
        f"Dry-run report{f' of account {account}' if account else ''}",
        "",
        f"Requests: {requests['total']} ({statuses})",
        f"Batches accepted: {report['accepted']['batches']}",
        "",
    ]
    lines += table(
        ["records", "accepted", "processed", "queued", "failed"],
        [
            [kind, report["accepted"][kind], report["processed"][kind], report["queued"][kind], report["failed"][kind]]
            for kind in KINDS
        ],
    )
    lines += ["", "Refused requests, by endpoint, rule and path:"]
    lines += (
        table(
            ["count", "requests", "endpoint", "rule", "path", "message", "examples"],
            [
                [
                    v["count"],
                    v["requests"],
                    v["endpoint"],
                    v["rule"],
                    v["path"] or "(body)",
                    v["message"],
                    " ".join(v["examples"]),
                ]
                for v in report["violations"]
            ],
        )
        if report["violations"]
        else ["  none"]
    )
    lines += ["", "Records that failed in processing, by reason:"]
    lines += (
        table(
            ["count", "kind", "reason", "examples"],
            [[f["count"], f["kind"], f["reason"], " ".join(f["examples"])] for f in report["failures"]],
        )
        if report["failures"]
        else ["  none"]
    )
    customers = report["customers"]
    lines += [
        "",
        f"Customers: {customers['with_profile']} with a profile, {customers['with_transactions']} with "
        f"transactions, {customers['events_without_profile']} with events but no profile; "
        f"duplicate events: {report['duplicates']['event']}",
    ]
    return "\n".join(lines)
