"""The CLI: serve's flags and variables become Settings; validate reports every violation offline."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from payloads import body, event, example, masivo_example

from mock_masivo import cli
from mock_masivo.config import Settings


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[Settings]:
    """Settings that `serve` would run with (run() is replaced, as uvicorn's own CLI tests do)."""
    captured: list[Settings] = []
    monkeypatch.setattr(cli, "run", captured.append)
    return captured


def serve(args: list[str], env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(cli.main, ["serve", *args], env=env or {}, catch_exceptions=False)


def test_serve_defaults_match_the_contract(served: list[Settings]) -> None:
    assert serve([]).exit_code == 0
    [settings] = served
    assert (settings.host, settings.port, settings.data_dir) == ("127.0.0.1", 8642, Path(".mock-masivo"))
    assert (settings.api_keys, settings.tokens, settings.token_ttl) == (("mock-api-key",), ("mock-token",), 3600)
    assert settings.max_body_bytes == 8 * 1024 * 1024
    assert not settings.strict
    assert settings.rate_limit == "off"


def test_every_flag_reaches_the_settings(served: list[Settings], tmp_path: Path) -> None:
    args = [
        "--host",
        "127.0.0.2",
        "--port",
        "9000",
        "--data",
        str(tmp_path),
        "--api-key",
        "k1",
        "--api-key",
        "k2",
        "--token",
        "t1",
        "--token-ttl",
        "60",
        "--max-body-bytes",
        "1000",
        "--strict",
        "--log-level",
        "debug",
        "--journal-size",
        "5",
        "--no-fsync",
        "--rate-limit",
        "dev",
        "--processing-delay",
        "2.5",
        "--latency-ms",
        "7",
    ]
    assert serve(args).exit_code == 0
    assert served[0] == Settings(
        host="127.0.0.2",
        port=9000,
        data=tmp_path,
        api_keys=("k1", "k2"),
        tokens=("t1",),
        token_ttl=60,
        max_body_bytes=1000,
        strict=True,
        log_level="debug",
        journal_size=5,
        fsync=False,
        rate_limit="dev",
        processing_delay=2.5,
        latency_ms=7,
    )


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (["--request-log-size", "5"], {}),
        (["--journal-size", "5"], {}),
        ([], {"MOCK_MASIVO_REQUEST_LOG_SIZE": "5"}),
        ([], {"MOCK_MASIVO_JOURNAL_SIZE": "5"}),
        (["--journal-size", "5"], {"MOCK_MASIVO_REQUEST_LOG_SIZE": "9"}),  # a flag replaces a variable
    ],
)
def test_the_request_log_size_has_its_old_name_too(
    served: list[Settings], args: list[str], env: dict[str, str]
) -> None:
    assert serve(args, env).exit_code == 0
    assert served[0].request_log_size == 5


def test_variables_configure_and_flags_replace_them(served: list[Settings]) -> None:
    env = {
        "MOCK_MASIVO_API_KEY": "a, b",
        "MOCK_MASIVO_TOKEN": "t",
        "MOCK_MASIVO_STRICT": "yes",
        "MOCK_MASIVO_PORT": "9100",
        "MOCK_MASIVO_MEMORY": "on",
        "MOCK_MASIVO_RATE_LIMIT": "prod",
    }
    assert serve(["--port", "9200"], env).exit_code == 0
    settings = served[0]
    assert settings.api_keys == ("a", "b")
    assert settings.tokens == ("t",)
    assert settings.strict and settings.memory and settings.data_dir is None
    assert (settings.port, settings.rate_limit) == (9200, "prod")


@pytest.mark.parametrize(
    "args, env, message",
    [
        (["--data", "x", "--memory"], {}, "--data and --memory"),
        (["--rate-limit", "fast"], {}, "fast"),
        ([], {"MOCK_MASIVO_STRICT": "maybe"}, "MOCK_MASIVO_STRICT"),
        ([], {"MOCK_MASIVO_PORT": "eighty"}, "MOCK_MASIVO_PORT"),
        (["--token-ttl", "0"], {}, "--token-ttl (MOCK_MASIVO_TOKEN_TTL) must be at least 1, got 0"),
        (["--api-key", "ключ"], {}, "--api-key (MOCK_MASIVO_API_KEY) must be visible ASCII characters with no spaces"),
        (["--api-key", " k "], {}, "got ' k '"),
        ([], {"MOCK_MASIVO_TOKEN": "a b"}, "--token (MOCK_MASIVO_TOKEN) must be visible ASCII"),
        (["--journal-size", "0"], {}, "--journal-size (MOCK_MASIVO_JOURNAL_SIZE) must be at least 1"),
        (["--request-log-size", "0"], {}, "--request-log-size (MOCK_MASIVO_REQUEST_LOG_SIZE) must be at least 1"),
        (
            ["--request-log-size", "5", "--journal-size", "6"],
            {},
            "--journal-size (MOCK_MASIVO_JOURNAL_SIZE) is the old name of --request-log-size",
        ),
        ([], {"MOCK_MASIVO_REQUEST_LOG_SIZE": "5", "MOCK_MASIVO_JOURNAL_SIZE": "6"}, "set one of them"),
    ],
)
def test_usage_errors_exit_2_with_a_message(
    served: list[Settings], args: list[str], env: dict[str, str], message: str
) -> None:
    result = serve(args, env)
    assert result.exit_code == 2
    assert message in result.output
    assert served == []


def test_non_loopback_bind_with_default_credentials_is_refused(served: list[Settings]) -> None:
    result = serve(["--host", "0.0.0.0"])
    assert result.exit_code == 2
    assert "refusing to bind 0.0.0.0" in result.output
    assert serve(["--host", "0.0.0.0", "--api-key", "secret-key", "--token", "secret-token"]).exit_code == 0
    only_token = serve(["--host", "0.0.0.0", "--api-key", "secret-key"]).output
    assert "set --token / MOCK_MASIVO_TOKEN (still mock-token) to a value of your own" in only_token
    assert "--api-key" not in only_token


def test_serve_prints_its_urls_credentials_and_data_dir_then_stops_cleanly(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mock_masivo",
            "serve",
            "--port",
            "0",
            "--data",
            str(tmp_path / "d"),
            "--log-level",
            "warning",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        banner = "".join(process.stdout.readline() for _ in range(8))
        url = banner.split("URL:", 1)[1].split()[0]
        wait_until_healthy(url)
    finally:
        process.terminate()
        process.wait(10)
        process.stdout.close()  # type: ignore[union-attr]
    assert f"Base URL:  {url}/api/storefront/v1" in banner
    assert "mock-api-key" in banner and "mock-token" in banner
    assert str(tmp_path / "d") in banner
    # uvicorn shuts down gracefully, then re-raises the signal it caught, as a well-behaved process should.
    assert process.returncode in (0, -signal.SIGTERM)


def test_ctrl_c_stops_serve_quietly_with_exit_0(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "mock_masivo", "serve", "--port", "0", "--memory", "--log-level", "warning"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    banner = "".join(process.stdout.readline() for _ in range(8))
    wait_until_healthy(banner.split("URL:", 1)[1].split()[0])
    assert "Web page:" in banner
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=20)
    assert process.returncode == 0
    assert "Aborted" not in out + err and "Traceback" not in err


def wait_until_healthy(url: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url + "/_mock/health").status_code == 200:
                return
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.02)


# -- validate ------------------------------------------------------------------------------------


def validate(args: list[str], stdin: str | None = None) -> Any:
    return CliRunner().invoke(cli.main, ["validate", *args], input=stdin)


def test_validate_accepts_masivos_example(tmp_path: Path) -> None:
    path = tmp_path / "example.json"
    path.write_text(json.dumps(masivo_example()))
    result = validate([str(path)])
    assert result.exit_code == 0
    assert result.output.strip().endswith("all valid, 0 violation(s)")


def test_validate_prints_one_line_per_violation_with_file_line_and_pointer(tmp_path: Path) -> None:
    bad = body(customers=2)
    bad["customers"][1]["events"][0]["issued_at"] = "yesterday"
    del bad["customers"][0]["events"][0]["fulfilled"]
    path = tmp_path / "batches.jsonl"
    path.write_text("\n".join([json.dumps(body()), json.dumps(bad), "{not json"]) + "\n")
    result = validate([str(path)])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert lines[0] == f"{path}:2: /customers/0/events/0: missing required member 'fulfilled'"
    assert lines[1].startswith(f"{path}:2: /customers/1/events/0/issued_at: must be a valid date-time")
    assert lines[2].startswith(f"{path}:3: /: the body is not valid JSON")
    assert lines[-1] == "3 bodies, 3 events checked: 2 invalid, 3 violation(s)"


def test_validate_reads_stdin_and_jsonl_flag(tmp_path: Path) -> None:
    result = validate(["-", "--jsonl"], stdin=json.dumps(body()) + "\n" + json.dumps({"customers": []}) + "\n")
    assert result.exit_code == 1
    assert result.output.startswith("-:2: /customers: must have at least 1 items, got 0")


def test_validate_strict_reports_unknown_members(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    path.write_text(json.dumps({"customers": [{"id": "c", "events": [event(colour="red")]}]}))
    assert validate([str(path)]).exit_code == 0
    strict = validate([str(path), "--strict"])
    assert strict.exit_code == 1
    assert f"{path}: /customers/0/events/0/colour: unknown member 'colour'" in strict.output


def test_validate_exits_2_when_a_file_cannot_be_read(tmp_path: Path) -> None:
    result = validate([str(tmp_path / "missing.json")])
    assert result.exit_code == 2
    assert "cannot read" in result.output


def test_validate_reports_the_batch_event_limit(tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    path.write_text(json.dumps(body(customers=2, events_each=501)))
    result = validate([str(path)])
    assert result.exit_code == 1
    assert f"{path}: /customers: the batch has 1002 events in all; at most 1000 are allowed" in result.output


def test_validate_tells_each_bodys_kind_and_says_which_it_assumed(tmp_path: Path) -> None:
    path = tmp_path / "migration.jsonl"
    bad_profile = {"customers": [{"id": "a", "email": "nope"}]}
    path.write_text(
        "\n".join(json.dumps(item) for item in (example("customers"), example("transactions"), body(), bad_profile))
        + "\n"
    )
    result = validate([str(path)])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert lines == [
        f"{path}:4: /customers/0/email: must be a valid email address (e.g. ana@example.com)",
        f"{path}: checked 2 as customers, 1 as transactions, 1 as events (told from each body's shape; --kind chooses)",
        "4 bodies, 2 profiles, 1 transaction, 1 event checked: 1 invalid, 1 violation(s)",
    ]


def test_validate_kind_checks_every_body_against_that_endpoints_schema(tmp_path: Path) -> None:
    path = tmp_path / "customers.json"
    path.write_text(json.dumps(example("customers")))
    assert validate([str(path), "--kind", "customers"]).exit_code == 0
    as_events = validate([str(path), "--kind", "events"])
    assert as_events.exit_code == 1
    assert f"{path}: /customers/0: missing required member 'events'" in as_events.output
    assert "told from" not in as_events.output
    assert validate([str(path), "--kind", "profiles"]).exit_code == 2  # a usage error lists the choices


@pytest.mark.parametrize("kind", ["events", "customers", "transactions"])
def test_example_prints_masivos_example_body_which_validates(kind: str) -> None:
    printed = CliRunner().invoke(cli.main, ["example", "--kind", kind])
    assert printed.exit_code == 0
    assert json.loads(printed.output) == example(kind)
    checked = CliRunner().invoke(cli.main, ["validate", "-", "--kind", kind], input=printed.output)
    assert checked.exit_code == 0, checked.output


def test_example_defaults_to_events() -> None:
    assert (
        CliRunner().invoke(cli.main, ["example"]).output
        == CliRunner().invoke(cli.main, ["example", "--kind", "events"]).output
    )


def test_a_data_path_that_is_a_file_is_named_as_such(tmp_path: Path) -> None:
    afile = tmp_path / "afile"
    afile.write_text("mine")
    ran = subprocess.run(
        [sys.executable, "-m", "mock_masivo", "serve", "--port", "0", "--data", str(afile)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert ran.returncode == 2
    assert f"cannot use {afile} as the data directory (--data / MOCK_MASIVO_DATA): it is a file" in ran.stderr
    assert afile.read_text() == "mine"


def test_a_serve_that_cannot_listen_leaves_no_data_directory(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        ran = subprocess.run(
            [sys.executable, "-m", "mock_masivo", "serve", "--port", str(port), "--data", str(tmp_path / "new")],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert ran.returncode == 2 and f"cannot listen on 127.0.0.1:{port} (--host / --port)" in ran.stderr
    assert not (tmp_path / "new").exists()


def test_validate_checks_every_readable_file_and_always_ends_with_the_summary(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.json", tmp_path / "bad.ndjson"
    good.write_text(json.dumps(body()))
    bad.write_text(json.dumps(body()) + "\n" + json.dumps({"customers": [{"id": "", "events": [event()]}]}) + "\n")
    result = validate(["--kind", "events", str(good), str(tmp_path / "missing.json"), str(bad)])
    assert result.exit_code == 2  # a file could not be read: nothing can be said of it
    lines = result.output.splitlines()
    assert f"{tmp_path / 'missing.json'}: cannot read: No such file or directory" in lines
    assert f"{bad}:2: /customers/0/id: " in "\n".join(lines)  # .ndjson is read as JSON lines
    assert lines[-1] == "3 bodies, 3 events checked: 1 invalid, 1 violation(s); 1 file could not be read"


def test_a_batch_over_its_total_is_reported_once(tmp_path: Path) -> None:
    over = tmp_path / "over.json"
    over.write_text(json.dumps({"customers": [{"id": "c", "events": [event(n) for n in range(1001)]}]}))
    result = validate(["--kind", "events", str(over)])
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f"{over}: /customers: the batch has 1001 events in all; at most 1000 are allowed",
        "1 body, 1001 events checked: 1 invalid, 1 violation(s)",
    ]


def test_serve_help_names_each_flags_variable() -> None:
    shown = " ".join(CliRunner().invoke(cli.main, ["serve", "--help"], terminal_width=400).output.split())
    for variable in (
        "MOCK_MASIVO_HOST",
        "MOCK_MASIVO_TOKEN_TTL",
        "MOCK_MASIVO_API_KEY, comma-separated",
        "MOCK_MASIVO_FSYNC",
        "MOCK_MASIVO_PARSE_WORKERS",
        "MOCK_MASIVO_REFUSED_BODIES_BYTES",
        "MOCK_MASIVO_ALLOWED_HOST, comma-separated",
    ):
        assert f"[env: {variable}]" in shown
    assert shown.count("[env: ") == len([p for p in cli.serve.params if p.name != "help"])
