"""Storage faults over real HTTP: failed writes and fsyncs, resets that stick, one server per dir, damaged journals.

Faults are injected by wrapping os.write / os.fsync for the journal's file descriptor only (the
server runs in this process), so every other file and socket keeps working.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import MIGRATE, post_events, stored_count
from payloads import body
from processes import ServerProcess, fetch_all

from mock_masivo import MockMasivoServer
from mock_masivo.storage import journal as journal_module
from mock_masivo.storage.datadir import JOURNAL_FILE
from mock_masivo.testing.server import ServerStartError

StartServer = Callable[..., MockMasivoServer]


def journal_fd(server: MockMasivoServer) -> int:
    fd: int = server.app.state.services.store._log.journal._fd
    return fd


def fail_journal_call(
    monkeypatch: pytest.MonkeyPatch, server: MockMasivoServer, name: str, error: int, times: int | None = 1
) -> None:
    """os.<name> fails with `error` on the journal's fd, `times` times (None: until undone); a failing write
    first writes part of its data, as a filling disk does."""
    real, left = getattr(os, name), [times]

    def failing(fd: int, *args: Any) -> Any:
        if fd != journal_fd(server) or left[0] == 0:
            return real(fd, *args)
        if left[0] is not None:
            left[0] -= 1
        if name == "write":
            real(fd, args[0][: len(args[0]) // 3])
        raise OSError(error, os.strerror(error))

    monkeypatch.setattr(f"mock_masivo.storage.journal.os.{name}", failing)  # os itself: the wrapper checks the fd


def snapshot(client: httpx.Client, data: Path) -> tuple[bytes, list[dict[str, Any]]]:
    return (data / JOURNAL_FILE).read_bytes(), fetch_all(client, "/_mock/events")


def customer_events(client: httpx.Client, prefix: str) -> int:
    return sum(1 for stored in fetch_all(client, "/_mock/events") if stored["customer_id"].startswith(prefix))


@pytest.mark.parametrize(
    ("error", "status", "title"),
    [
        (errno.ENOSPC, 507, "Insufficient storage"),
        (errno.EFBIG, 507, "Insufficient storage"),
        (errno.EIO, 503, "Storage unavailable"),
    ],
)
def test_failed_append_answers_with_json_error_and_leaves_the_journal_unchanged(
    make_server: StartServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: int, status: int, title: str
) -> None:
    server = make_server()
    with httpx.Client(base_url=server.url, timeout=30) as client:
        assert post_events(client, body(2, 2, prefix="before-")).status_code == 201
        before = snapshot(client, tmp_path / "data")
        fail_journal_call(monkeypatch, server, "write", error)
        response = post_events(client, body(50, 2, prefix="failed-"))
        assert response.status_code == status
        assert response.json() == {"error": title, "details": response.json()["details"]}
        assert "nothing was stored" in response.json()["details"]
        assert "X-Mock-Batch-Id" not in response.headers
        assert snapshot(client, tmp_path / "data") == before
        assert post_events(client, body(1, 1, prefix="after-")).status_code == 201  # the fault is gone
        assert stored_count(client) == len(before[1]) + 1
        assert customer_events(client, "failed-") == 0


def test_failed_fsync_answers_503_until_restart_and_the_batch_is_whole_or_absent(
    make_server: StartServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = make_server()
    with httpx.Client(base_url=server.url, timeout=30) as client:
        assert post_events(client, body(1, 1, prefix="before-")).status_code == 201
        events_before = fetch_all(client, "/_mock/events")
        fail_journal_call(monkeypatch, server, "fsync", errno.EIO)
        first = post_events(client, body(20, 3, prefix="unsynced-"))
        assert (first.status_code, first.json()["error"]) == (503, "Storage unavailable")
        assert "fsync" in first.json()["details"]
        monkeypatch.undo()  # the disk recovers; the server must still refuse: its page cache cannot be trusted
        again = post_events(client, body(1, 1, prefix="later-"))
        assert (again.status_code, again.json()["error"]) == (503, "Storage unavailable")
        assert "restart" in again.json()["details"]
        assert client.post("/_mock/accounts").status_code == 503
        assert client.post("/_mock/reset").status_code == 503
        assert fetch_all(client, "/_mock/events") == events_before  # reads keep working
    server.stop()
    restarted = make_server()
    with httpx.Client(base_url=restarted.url, timeout=30) as client:
        assert customer_events(client, "unsynced-") in (0, 60)
        assert customer_events(client, "later-") == 0
        assert customer_events(client, "before-") == 1
        assert post_events(client, body(1, 1, prefix="fresh-")).status_code == 201


def test_an_account_reset_that_cannot_be_written_answers_507_and_removes_nothing(
    make_server: StartServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = make_server()
    with httpx.Client(base_url=server.url, timeout=30) as client:
        assert post_events(client, body(2, 2)).status_code == 201
        before = snapshot(client, tmp_path / "data")

        def full_disk(fd: int, data: bytes) -> None:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        monkeypatch.setattr(journal_module, "_write_all", full_disk)
        response = client.post("/_mock/reset", params={"account": "default"})
        assert (response.status_code, response.json()["error"]) == (507, "Insufficient storage")
        assert snapshot(client, tmp_path / "data") == before


def test_a_full_reset_frees_the_disk_even_when_it_is_full(
    make_server: StartServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 15 item 6: a full disk used to make the reset itself fail (507), so space could not be freed."""
    server = make_server()
    journal = tmp_path / "data" / "journal.jsonl"
    with httpx.Client(base_url=server.url, timeout=30) as client:
        assert post_events(client, body(20, 20)).status_code == 201
        size = journal.stat().st_size
        real = journal_module._write_all

        def full_disk_except_the_journal(fd: int, data: bytes) -> None:
            if fd != journal_fd(server):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            real(fd, data)

        monkeypatch.setattr(journal_module, "_write_all", full_disk_except_the_journal)
        response = client.post("/_mock/reset")
        assert (response.status_code, response.json()["events"]) == (200, 400)
        assert journal.stat().st_size < size / 20
        assert not list((tmp_path / "data").glob("*.tmp"))
        assert fetch_all(client, "/_mock/events") == []
        assert post_events(client, body(1, 1)).headers["X-Mock-Batch-Id"] == "bat_2"


def test_reset_then_sigkill_then_restart_brings_nothing_back(tmp_path: Path) -> None:
    with ServerProcess(tmp_path / "data") as server, httpx.Client(base_url=server.url, timeout=30) as client:
        ids = [post_events(client, body(2, 2, prefix=f"b{n}-")).headers["X-Mock-Batch-Id"] for n in range(3)]
        assert ids == ["bat_1", "bat_2", "bat_3"]
        reset = client.post("/_mock/reset")
        assert reset.status_code == 200
        assert (reset.json()["batches"], reset.json()["events"]) == (3, 12)
        server.kill()
    with ServerProcess(tmp_path / "data") as server, httpx.Client(base_url=server.url, timeout=30) as client:
        assert fetch_all(client, "/_mock/events") == []
        assert fetch_all(client, "/_mock/batches") == []
        response = post_events(client, body(1, 1))
        assert response.headers["X-Mock-Batch-Id"] == "bat_4"  # ids are never reused
        assert fetch_all(client, "/_mock/events")[0]["id"] == "evt_13"


def create_account(client: httpx.Client) -> dict[str, str]:
    response = client.post("/_mock/accounts")
    assert response.status_code == 201
    account: dict[str, str] = response.json()["data"]
    return account


def test_account_reset_removes_only_that_account_also_after_restart(make_server: StartServer) -> None:
    server = make_server()
    with httpx.Client(base_url=server.url, timeout=30) as client:
        account = create_account(client)
        theirs = {"Authorization": f"Bearer {account['token']}", "Content-Type": "application/json"}
        assert post_events(client, body(2, 2, prefix="mine-")).status_code == 201
        assert post_events(client, body(3, 1, prefix="theirs-"), headers=theirs).status_code == 201
        assert post_events(client, body(1, 1, prefix="mine-later-")).status_code == 201
        kept = fetch_all(client, "/_mock/events", account="default")
        reset = client.post("/_mock/reset", params={"account": account["id"]})
        assert reset.status_code == 200
        assert (reset.json()["batches"], reset.json()["events"]) == (1, 3)
        assert fetch_all(client, "/_mock/events") == kept
    server.stop()
    restarted = make_server()
    with httpx.Client(base_url=restarted.url, timeout=30) as client:
        assert fetch_all(client, "/_mock/events") == kept
        again = post_events(client, body(1, 1, prefix="theirs-again-"), headers=theirs)  # the account still works
        assert again.status_code == 201
        assert again.headers["X-Mock-Batch-Id"] == "bat_4"
        assert [stored["id"] for stored in fetch_all(client, "/_mock/events", account=account["id"])] == ["evt_9"]


def test_second_server_on_the_same_data_dir_is_refused(make_server: StartServer, tmp_path: Path) -> None:
    first = make_server()
    with pytest.raises(ServerStartError, match=f"{tmp_path / 'data'}.*in use by another mock-masivo server"):
        make_server()
    with httpx.Client(base_url=first.url, timeout=30) as client:  # the first one is unharmed
        assert post_events(client, body()).status_code == 201


def serve_once(data: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run `mock-masivo serve --data DIR` and expect it to exit by itself (a refused start)."""
    command = [sys.executable, "-m", "mock_masivo", "serve", "--data", str(data), "--port", "0"]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)


def test_cli_refuses_a_data_dir_owned_by_a_running_server(make_server: StartServer, tmp_path: Path) -> None:
    make_server()
    raw = (tmp_path / "data" / JOURNAL_FILE).read_bytes()
    finished = serve_once(tmp_path / "data")
    assert finished.returncode == 2
    assert f"Error: data directory {tmp_path / 'data'} is in use by another mock-masivo server" in finished.stderr
    assert "Traceback" not in finished.stderr
    assert (tmp_path / "data" / JOURNAL_FILE).read_bytes() == raw


def write_then_damage_the_middle(make_server: StartServer, data: Path) -> bytes:
    """Three batches through a server, then one byte of the middle record flipped; returns the damaged bytes."""
    server = make_server()
    with httpx.Client(base_url=server.url, timeout=30) as client:
        for number in range(3):
            assert post_events(client, body(2, 2, prefix=f"b{number}-")).status_code == 201
    server.stop()
    raw = bytearray((data / JOURNAL_FILE).read_bytes())
    raw[raw.index(b"\n") + 30] ^= 0x01
    (data / JOURNAL_FILE).write_bytes(bytes(raw))
    return bytes(raw)


def test_cli_refuses_a_journal_damaged_in_the_middle_and_leaves_it_byte_identical(
    make_server: StartServer, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    damaged = write_then_damage_the_middle(make_server, data)
    finished = serve_once(data)
    assert finished.returncode == 2
    assert f"Error: {data / JOURNAL_FILE}: the record at byte" in finished.stderr
    assert "Refusing to start" in finished.stderr
    assert "Traceback" not in finished.stderr
    assert (data / JOURNAL_FILE).read_bytes() == damaged
    with pytest.raises(ServerStartError, match="Refusing to start"):
        make_server()
    assert (data / JOURNAL_FILE).read_bytes() == damaged


def test_cli_cuts_a_torn_tail_with_a_warning_and_serves_the_rest(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with ServerProcess(data) as server, httpx.Client(base_url=server.url, timeout=30) as client:
        for number in range(2):
            assert post_events(client, body(1, 2, prefix=f"b{number}-")).status_code == 201
        first_batch = fetch_all(client, "/_mock/events", batch_id="bat_1")
        server.kill()
    raw = (data / JOURNAL_FILE).read_bytes()
    (data / JOURNAL_FILE).write_bytes(raw[:-7])
    with ServerProcess(data) as server, httpx.Client(base_url=server.url, timeout=30) as client:
        assert fetch_all(client, "/_mock/events") == first_batch
        assert "cutting off a torn last record" in server.err.read_text()
    assert (data / JOURNAL_FILE).read_bytes() == raw[: raw.index(b"\n") + 1]


def test_leftover_tmp_files_are_removed_at_start_and_the_journal_wins(make_server: StartServer, tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = make_server()
    with httpx.Client(base_url=server.url, timeout=30) as client:
        assert post_events(client, body(2, 1)).status_code == 201
        before = fetch_all(client, "/_mock/events")
    server.stop()
    (data / (JOURNAL_FILE + ".tmp")).write_bytes(b'0badc0de {"op":"sequence"}\n')
    (data / "jwt-secret.tmp").write_text("partial")
    restarted = make_server()
    assert sorted(path.name for path in data.glob("*.tmp")) == []
    with httpx.Client(base_url=restarted.url, timeout=30) as client:
        assert fetch_all(client, "/_mock/events") == before


def test_store_answers_after_failed_writes_of_every_kind(
    make_server: StartServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run of failing writes never wedges the writer: each request gets its answer, then writes resume."""
    server = make_server()
    with httpx.Client(base_url=server.url, timeout=30) as client:
        fail_journal_call(monkeypatch, server, "write", errno.ENOSPC, times=5)
        statuses = [post_events(client, body(3, 1, prefix=f"f{n}-")).status_code for n in range(5)]
        assert statuses == [507] * 5
        assert (
            client.get(
                MIGRATE.replace("customers/migrate/events", "auth/authorize"), headers={"x-api-key": "mock-api-key"}
            ).status_code
            == 200
        )
        assert post_events(client, body(1, 1)).status_code == 201
        assert stored_count(client) == 1
