"""The report's request counters stay small: groups and timeline minutes are bounded, counts exact."""

from __future__ import annotations

import pytest

from mock_masivo.web import runreport
from mock_masivo.web.requestlog import Call, CallFacts
from mock_masivo.web.runreport import RunReport, endpoint_of


def refused(number: int, at: float, *paths: str) -> Call:
    errors = [{"path": path, "message": f"bad {path}", "rule": "type"} for path in paths]
    return Call(number, at, "POST", "/customers/migrate", 422, CallFacts(account="acc", errors=errors), 1.0)


def test_new_groups_past_the_cap_are_counted_under_one_other_group(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runreport, "MAX_GROUPS", 2)
    report = RunReport()
    report.add(refused(1, 0, "/a", "/b", "/c", "/d"), "POST /customers/migrate")
    report.add(refused(2, 0, "/a/7"), "POST /customers/migrate")
    groups = [(v["path"], v["count"], v["requests"], v["examples"]) for v in report.sections("acc")["violations"]]
    # /a/7 is /a/* once its index is starred: a third group, so it goes to "other" too
    assert groups == [("*", 3, 2, ["req_1", "req_2"]), ("/a", 1, 1, ["req_1"]), ("/b", 1, 1, ["req_1"])]


def test_the_timeline_keeps_the_newest_minutes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runreport, "TIMELINE_MINUTES", 2)
    report = RunReport()
    for minute in range(4):
        report.add(refused(minute, minute * 60.0 + 1), "POST /customers/migrate")
    sections = report.sections(None)
    assert [entry["minute"] for entry in sections["timeline"]] == ["1970-01-01T00:02:00Z", "1970-01-01T00:03:00Z"]
    assert sections["requests"] == {"total": 4, "by_status": {"422": 4}}


def test_endpoints_are_named_without_masivos_base_path() -> None:
    assert endpoint_of("GET", "/api/storefront/v1/customers/{customer_id}") == "GET /customers/{customer_id}"
    assert endpoint_of("POST", "/customers/migrate") == "POST /customers/migrate"
