"""The baseline of bench_small_requests: a bare Starlette endpoint that answers 201 without reading the body.

Served by uvicorn with the configuration mock-masivo itself uses (`mock_masivo.config.uvicorn_config`:
h11, one worker, the same concurrency limit), so the two differ only in what the app does. uvicorn
binds the port itself (as `uvicorn.run` does), so the baseline has asyncio's usual TCP_NODELAY.

    python benchmarks/bare_app.py --port 8700
"""

from __future__ import annotations

import argparse

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mock_masivo.config import Settings, uvicorn_config


async def accept(request: Request) -> Response:
    return Response(b"{}", status_code=201, media_type="application/json")


async def health(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


app = Starlette(
    routes=[
        Route("/customers/migrate/events", accept, methods=["POST"]),
        Route("/_mock/health", health, methods=["GET"]),
    ]
)


def main() -> None:
    arguments = argparse.ArgumentParser(description=__doc__)
    arguments.add_argument("--port", type=int, required=True)
    port = arguments.parse_args().port
    settings = Settings(memory=True, port=port, log_level="warning")
    uvicorn.Server(uvicorn_config(app, settings)).run()


if __name__ == "__main__":
    main()
