"""Errors as RFC 9457 problem details, and the request-size guard.

Every error a route raises becomes ``application/problem+json`` with the ``type``,
``title`` and status that the error's class carries (:mod:`skyaccord.errors` is the one
table). Request validation failures are ``invalid-request`` (422), unknown routes
``not-found`` (404), and anything unexpected ``internal`` (500, logged, details withheld).
``accord-undecided`` (503: which version is in force is not known yet) also says when to
try again (``Retry-After``) and which proposals and parties it waits on (``proposals``).

:class:`BodyLimit` refuses a request body over the limit before reading it when it
declares its length, and stops reading once a chunked body passes the limit.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from skyaccord.errors import (
    PROBLEM_TYPE_BASE,
    AccordUndecided,
    PayloadTooLarge,
    SkyaccordError,
    problem_type,
)

__all__ = ["PROBLEM_JSON", "BodyLimit", "install_problem_handlers", "problem"]

PROBLEM_JSON = "application/problem+json"
#: seconds a client is asked to wait before sending again what an undecided accord held
RETRY_UNDECIDED_S = 5
log = logging.getLogger("skyaccord.node")

_TITLES = {400: "Bad request", 401: "Unauthenticated", 403: "Forbidden", 404: "Not found",
           405: "Method not allowed", 409: "Conflict", 413: "Payload too large",
           415: "Unsupported media type", 422: "Invalid request", 429: "Too many requests",
           500: "Internal error", 503: "Unavailable"}


def problem(status: int, kind: str, detail: str, **extra: Any) -> JSONResponse:
    body = {"type": PROBLEM_TYPE_BASE + kind, "title": _TITLES.get(status, "Error"),
            "status": status, "detail": detail, **extra}
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(SkyaccordError)
    async def skyaccord_error(_: Request, exc: SkyaccordError) -> JSONResponse:
        resp = problem(exc.http_status, problem_type(exc).removeprefix(PROBLEM_TYPE_BASE),
                       str(exc), **exc.details)
        if isinstance(exc, AccordUndecided):  # held until a peer's word arrives: later
            resp.headers["Retry-After"] = str(RETRY_UNDECIDED_S)
        return resp

    async def invalid(_: Request, exc: RequestValidationError | ValidationError
                      ) -> JSONResponse:
        errors = [{"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", ""))}
                  for e in exc.errors()[:20]]
        first = errors[0] if errors else {"loc": [], "msg": "invalid"}
        return problem(422, "invalid-request",
                       f"{'.'.join(first['loc'])}: {first['msg']}", errors=errors)

    app.add_exception_handler(RequestValidationError, invalid)  # type: ignore[arg-type]
    app.add_exception_handler(ValidationError, invalid)  # type: ignore[arg-type]

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        kinds = {404: "not-found", 405: "method-not-allowed", 401: "unauthenticated",
                 403: "forbidden", 413: "payload-too-large"}
        return problem(exc.status_code, kinds.get(exc.status_code, "http-error"),
                       str(exc.detail))

    @app.exception_handler(Exception)
    async def internal(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error", exc_info=exc)
        return problem(500, "internal", "internal error; the node's log has the details")


class BodyLimit:
    """ASGI middleware: refuse HTTP request bodies over ``max_bytes`` with 413."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared < 0 or declared > self.max_bytes:
                    await self._refuse(send, declared)
                    return
        seen = 0
        started = False

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise PayloadTooLarge(f"request body over {self.max_bytes} bytes")
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited, tracking_send)
        except PayloadTooLarge:
            if not started:
                await self._refuse(send, seen)

    async def _refuse(self, send: Send, size: int) -> None:
        body = json.dumps({"type": PROBLEM_TYPE_BASE + "payload-too-large",
                           "title": "Payload too large", "status": 413,
                           "detail": f"request body over {self.max_bytes} bytes"
                           + (f" ({size} declared)" if size > 0 else "")}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", PROBLEM_JSON.encode()),
                                (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})
