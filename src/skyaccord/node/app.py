"""The node's HTTP API, built by :func:`create_app` — nothing happens at import.

One router per resource (:mod:`skyaccord.node.routers`); every route needs an operator's
bearer token except peer delivery (``POST /line/messages``), which accepts only
envelopes signed by keys of the accord, and the operating picture's static files
(``/``, ``/static/...``: :mod:`skyaccord.web`), which hold no data. Errors are RFC 9457
problems; bodies over the configured limit are refused before they are read. The app's
lifespan runs the node's threads: the line's deliverer, the ticker and the feed readers.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from skyaccord.line.node import Deliverer
from skyaccord.node.auth import TokenStore
from skyaccord.node.deps import NodeContext, Viewer
from skyaccord.node.loop import FeedReader, Ticker
from skyaccord.node.models import Problem
from skyaccord.node.problems import BodyLimit, install_problem_handlers
from skyaccord.node.routers import (
    accord,
    advisories,
    alerts,
    health,
    intents,
    line,
    live,
    tokens,
    tracks,
    zones,
)
from skyaccord.node.runtime import NodeRuntime
from skyaccord.web import mount as mount_page

__all__ = ["API_VERSION", "create_app"]

API_VERSION = "1.0.0"


def create_app(runtime: NodeRuntime, token_store: TokenStore, *, registry: Any = None,
               max_body_bytes: int = 8 * 1024 * 1024, tick_s: float | None = 1.0,
               feeds: Sequence[str] = (), deliver: bool = True,
               close: bool = True, tiles: str | None = None) -> FastAPI:
    """The node's app. ``tick_s`` None runs no ticker (the caller ticks, as the simulator
    and tests do); ``deliver`` False runs no outbox deliverer; ``tiles`` an XYZ raster
    tile URL template for the operating picture's basemap."""
    hub = live.Hub()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        hub.loop = asyncio.get_running_loop()
        runtime.listeners.append(hub.publish)
        deliverer = Deliverer(runtime.line) if deliver else None
        ticker = Ticker(runtime, tick_s) if tick_s is not None else None
        readers = [FeedReader(runtime, f) for f in feeds]
        for thread in (deliverer, ticker, *readers):
            if thread is not None:
                thread.start()
        try:
            yield
        finally:
            for thread in (*readers, ticker, deliverer):
                if thread is not None:
                    thread.stop()
            runtime.listeners.remove(hub.publish)
            if close:
                runtime.line.close()

    # No open documentation routes: the document is served to viewers below, and is
    # committed beside this module (openapi.json).
    app = FastAPI(title=f"skyaccord node ({runtime.party})", version=API_VERSION,
                  summary="A party's node: live picture, alerts, intents and the line.",
                  lifespan=lifespan, openapi_url=None, docs_url=None, redoc_url=None,
                  responses={code: {"model": Problem, "description": what} for code, what in (
                      (401, "No valid operator token"), (403, "The token's role is too low"),
                      (413, "The body is over the node's limit"),
                      (422, "The request does not match its schema"))})

    @app.get("/openapi.json", include_in_schema=False)
    def openapi_document(_: Viewer) -> dict[str, Any]:
        return app.openapi()

    app.state.ctx = NodeContext(runtime, token_store, max_body_bytes, registry)
    app.state.hub = hub
    app.state.feeds = feeds
    install_problem_handlers(app)
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)
    for module in (health, accord, tracks, alerts, advisories, zones, intents, line, tokens,
                   live):
        app.include_router(module.router)
    mount_page(app, tiles=tiles)  # the operating picture: public static files, data only by token
    return app
