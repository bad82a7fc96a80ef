"""`mock-masivo serve | validate | report | example`: a thin click layer over Settings, the app,
the validator, the report and the shipped examples.

Every serve flag has a `MOCK_MASIVO_<FLAG>` variable, read by `Settings.from_env`; a flag given on
the command line replaces it.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import sys
from pathlib import Path
from typing import Any

import click

from . import __version__
from .config import (
    MASIVO_BASE_PATH,
    RATE_LIMIT_MODES,
    ServerStartError,
    Settings,
    SettingsError,
    env_name,
    listen,
    one_of,
    refuse_public_default_credentials,
    url_of,
    uvicorn_config,
)
from .ingest.schemas import EXAMPLE_KINDS, example_text

log = logging.getLogger("mock_masivo")


@click.group()
@click.version_option(__version__, prog_name="mock-masivo")
def main() -> None:
    """A local emulator of Masivo's REST API."""


@main.command()
@click.option("--host", help="Interface to bind (default 127.0.0.1).")
@click.option("--port", type=int, help="Port to listen on (default 8642; 0 picks a free one).")
@click.option("--data", type=click.Path(path_type=Path), help="Data directory (default .mock-masivo/).")
@click.option("--memory", is_flag=True, default=None, help="Keep everything in memory only.")
@click.option("--api-key", "api_keys", multiple=True, help="Accepted API key (repeatable; replaces mock-api-key).")
@click.option(
    "--token", "tokens", multiple=True, help="Accepted static bearer token (repeatable; replaces mock-token)."
)
@click.option("--token-ttl", type=int, help="Lifetime of issued JWTs in seconds (default 3600).")
@click.option("--max-body-bytes", type=int, help="Largest accepted request body (default 8 MiB).")
@click.option("--strict", is_flag=True, default=None, help="Reject unknown members of documented objects.")
@click.option(
    "--log-level",
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
    help="Server log level (default info).",
)
@click.option(
    "--request-log-size", type=int, help="Requests kept in the in-memory request log, newest (default 10000)."
)
@click.option("--journal-size", type=int, help="The old name of --request-log-size.")
@click.option(
    "--no-fsync",
    "fsync",
    flag_value=False,
    default=None,
    help="Skip fsync before answering 201: survives a process crash, not a power loss.",
)
@click.option(
    "--rate-limit",
    type=click.Choice(RATE_LIMIT_MODES),
    help="Masivo's migration limits: dev (1 per 5 s, 250/h), prod (1 per 5 s, 1000/h) or off (default).",
)
@click.option("--processing-delay", type=float, help="Seconds accepted events stay QUEUED (default 0).")
@click.option("--latency-ms", type=int, help="Delay added to every Masivo-route answer (default 0).")
@click.option(
    "--parse-workers",
    type=int,
    help="Processes that parse and validate batches, to use more cores in a big dry run (default 0).",
)
@click.option(
    "--refused-bodies-bytes",
    type=int,
    help="Memory for the bodies of refused requests kept in the request log, oldest dropped first "
    "(default 67108864, 64 MiB).",
)
@click.option(
    "--allowed-host",
    "allowed_hosts",
    multiple=True,
    help="A host name the server answers to besides IP addresses, localhost and --host (repeatable; "
    "e.g. a docker-compose service name).",
)
def serve(**given: Any) -> None:
    """Run the server until interrupted."""
    settings = _settings(given)
    try:
        refuse_public_default_credentials(settings)
    except ServerStartError as exc:
        raise click.UsageError(str(exc)) from None
    run(settings)


def _name_variables(command: click.Command) -> None:
    """Each serve flag's help ends with the variable that sets it too, so --help says both ways."""
    for option in command.params:
        if isinstance(option, click.Option) and option.name in Settings.__dataclass_fields__:
            listed = ", comma-separated" if option.multiple else ""
            option.help = f"{option.help} [env: {env_name(option.name)}{listed}]"


_name_variables(serve)


def _settings(given: dict[str, Any]) -> Settings:
    try:
        settings = Settings.from_env(os.environ)
        changes = {name: value for name, value in given.items() if value not in (None, ())}
        one_of(changes, "request_log_size", "journal_size")
        return settings.replace(**changes)
    except SettingsError as exc:
        raise click.UsageError(str(exc)) from None


def run(settings: Settings) -> None:
    """Open the store, print the banner, and serve until interrupted."""
    import uvicorn

    from .storage.store import OPEN_ERRORS
    from .web.app import create_app

    logging.basicConfig(level=settings.log_level.upper(), format="%(levelname)s:     %(message)s")
    try:  # bind first: a serve that cannot listen leaves no new data directory behind
        sock = listen(settings, named=" (--host / --port)")
    except ServerStartError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)
    try:
        app = create_app(settings, served=True)
    except OPEN_ERRORS as exc:
        sock.close()
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)
    tune_garbage_collector()
    _print_banner(settings, sock.getsockname()[1])
    sys.stdout.flush()  # a supervisor reading a pipe needs the URL now, not at exit
    # uvicorn shuts down cleanly on Ctrl-C, then re-raises it: without this, click says "Aborted!", exit 1
    with contextlib.suppress(KeyboardInterrupt):
        uvicorn.Server(uvicorn_config(app, settings)).run(sockets=[sock])


def tune_garbage_collector() -> None:
    """Parsed JSON has no reference cycles, yet with the default thresholds the cyclic collector cost
    about 13 us per ingested event (benchmarks/README.md). What start-up loaded stays for good: move
    it out of the collector's sight, and collect young objects less often. Only for the process
    `serve` owns: an embedded MockMasivoServer leaves its host's collector alone."""
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)


def _print_banner(settings: Settings, port: int) -> None:
    url = url_of(settings.host, port)
    data = settings.data_dir.resolve() if settings.data_dir is not None else "none (--memory: nothing is kept)"
    click.echo(
        "\n".join(
            [
                f"mock-masivo {__version__}",
                f"  URL:       {url}",
                f"  Base URL:  {url}{MASIVO_BASE_PATH}   (give this to your Masivo client)",
                f"  API key:   {', '.join(settings.api_keys)}",
                f"  Token:     {', '.join(settings.tokens)}",
                f"  Data dir:  {data}",
                f"  Web page:  {url}/_mock/ui",
                f"  Inspect:   {url}/_mock/events   OpenAPI: {url}/openapi.json",
            ]
        )
    )


@main.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("--strict", is_flag=True, help="Report unknown members of documented objects as violations.")
@click.option("--jsonl", is_flag=True, help="Read every file as one body per line.")
@click.option(
    "--kind",
    type=click.Choice(["events", "customers", "transactions"]),
    default=None,
    help="The endpoint the bodies are for (default: told from each body's shape, and said).",
)
def validate(paths: tuple[str, ...], strict: bool, jsonl: bool, kind: str | None) -> None:
    """Check payload files offline: .json holds one body, .jsonl one per line, - reads stdin."""
    from .ingest.files import validate_paths

    sys.exit(
        validate_paths(
            paths, strict=strict, jsonl=jsonl, out=click.echo, err=lambda m: click.echo(m, err=True), kind=kind
        )
    )


@main.command()
@click.option(
    "--url", default="http://127.0.0.1:8642", show_default=True, help="The running mock-masivo server to ask."
)
@click.option("--account", help="Report one account only (default: every account).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON instead of tables.")
def report(url: str, account: str | None, as_json: bool) -> None:
    """Print the dry-run report of a running server: what was accepted, refused and why."""
    import httpx

    from .reporttext import render

    try:
        answer = httpx.get(
            f"{url.rstrip('/')}/_mock/report", params={"account": account} if account else None, timeout=60
        )
    except httpx.HTTPError as exc:
        raise click.UsageError(f"cannot reach the server at --url {url}: {exc}") from None
    if answer.status_code != 200:
        details = answer.json().get("details", answer.text) if _is_json(answer) else answer.text[:200]
        message = f"the server at --url {url} answered {answer.status_code}: {details}"
        raise click.UsageError(message + (" (check --account)" if answer.status_code == 404 and account else ""))
    data = answer.json()["data"]
    click.echo(answer.text if as_json else render(data, account))


def _is_json(answer: Any) -> bool:
    return bool(answer.headers.get("content-type", "").startswith("application/json"))


@main.command()
@click.option(
    "--kind",
    type=click.Choice(EXAMPLE_KINDS),
    default="events",
    show_default=True,
    help="Which endpoint's example: migrate/events, migrate (customers) or migrate/transactions.",
)
def example(kind: str) -> None:
    """Print Masivo's published example body, to post or to start a payload from."""
    click.echo(example_text(kind), nl=False)
