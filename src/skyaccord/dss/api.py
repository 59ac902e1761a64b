"""The USS→DSS interface of F3548-21 over HTTP: one FastAPI router under ``/dss/v1``,
mountable in any app (the node's, or :func:`create_app`'s own).

Every route reads the bearer token (:mod:`.auth`), bounds and parses the JSON body
itself (so that a malformed one is the document's 400 ``ErrorResponse``, not FastAPI's
422), runs the :class:`~.service.Dss` method in the thread pool (it blocks on the
database) and answers its JSON, or the error's status with ``{"message": ...}`` (or the
``AirspaceConflictResponse`` of a key check).
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from skyaccord.errors import InputError, PayloadTooLarge, SkyaccordError, Unauthenticated

from .auth import Authenticator, Caller
from .service import AirspaceConflict, Dss

__all__ = ["MAX_BODY_BYTES", "RateLimited", "RateLimiter", "create_app", "dss_router",
           "serve_call"]

#: Largest request body accepted (a 1,000-volume, 10,000-vertex intent fits).
MAX_BODY_BYTES = 2 * 1024 * 1024


class RateLimited(SkyaccordError):
    """The client sent too many requests in a short time (the document's 429)."""

    kind = "rate-limited"
    http_status = 429

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class RateLimiter:
    """A token bucket per client: ``rate_per_s`` requests a second on average, bursts of
    ``burst``. Clients are the tokens' ``sub`` (a manager's requests count together,
    whichever instance or address they come from; per instance, a pool of n instances
    admits up to n times the rate) and, for requests whose token does not verify, the
    peer address (a flood of bad tokens is refused before it costs signature checks).
    At most ``max_clients`` buckets are kept: the least recently used go first (a full
    bucket forgets nothing)."""

    def __init__(self, rate_per_s: float = 50.0, burst: float = 100.0,
                 max_clients: int = 10_000, clock: Callable[[], float] = time.monotonic
                 ) -> None:
        if not (rate_per_s > 0 and burst >= 1 and max_clients >= 1):
            raise InputError("a rate limit needs rate_per_s > 0, burst >= 1, max_clients >= 1")
        self.rate_per_s = float(rate_per_s)
        self.burst = float(burst)
        self.max_clients = max_clients
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def retry_after(self, client: str) -> float:
        """Seconds to wait before the next request of ``client``: 0 to go now (and the
        request is counted)."""
        now = self.clock()
        with self._lock:
            level, at = self._buckets.pop(client, (self.burst, now))
            level = min(self.burst, level + (now - at) * self.rate_per_s)
            wait = 0.0
            if level >= 1.0:
                level -= 1.0
            else:
                wait = (1.0 - level) / self.rate_per_s
            self._buckets[client] = (level, now)
            while len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
            return wait

    def check(self, client: str) -> None:
        wait = self.retry_after(client)
        if wait > 0:
            raise RateLimited(f"too many requests from {client[:80]}: at most "
                              f"{self.rate_per_s:g}/s (bursts of {self.burst:g}); "
                              f"retry in {wait:.2f} s", wait)


def _error(exc: SkyaccordError, with_413: bool = True) -> JSONResponse:
    body: dict[str, Any] = (exc.body if isinstance(exc, AirspaceConflict)
                            else {"message": str(exc)})
    status = exc.http_status
    if status == 413 and not with_413:
        status = 400  # the document lists no 413 for this operation: its 400
    headers: dict[str, str] | None = None
    if exc.http_status == 401:
        headers = {"WWW-Authenticate": 'Bearer error="invalid_token"'}
    elif isinstance(exc, RateLimited):  # RFC 9110 §10.2.3: whole seconds
        headers = {"Retry-After": str(max(1, math.ceil(exc.retry_after_s)))}
    return JSONResponse(body, status_code=status, headers=headers)


async def _body(request: Request, limit: int = MAX_BODY_BYTES) -> object:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"the request body is over {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the request body is over {limit} bytes")
        chunks.append(chunk)
    try:
        return json.loads(b"".join(chunks))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"the request body is not JSON: {exc}") from None


async def serve_call(request: Request, status: int, call: Callable[[Caller, object], Any],
                     with_body: bool, authenticator: Authenticator,
                     limiter: RateLimiter | None, max_body_bytes: int,
                     with_413: bool = False) -> Response:
    """One request: the caller (401), its rate (429), the bounded JSON body (400, 413),
    then ``call`` in the thread pool; its answer, or the error's. ``with_413``: the
    document lists 413 for the operation (else what is too large is its 400)."""
    try:
        try:
            caller = authenticator.caller(request.headers.get("authorization"))
        except Unauthenticated:
            if limiter is not None:
                peer = request.client.host if request.client else "?"
                limiter.check(f"address {peer}")
            raise
        if limiter is not None:
            limiter.check(caller.sub)
        body = await _body(request, max_body_bytes) if with_body else None
        result = await run_in_threadpool(call, caller, body)
    except SkyaccordError as exc:
        return _error(exc, with_413)
    if status == 204:
        return Response(status_code=204)
    return JSONResponse(result, status_code=status)


def dss_router(dss: Dss, authenticator: Authenticator, *,
               limiter: RateLimiter | None = None,
               max_body_bytes: int = MAX_BODY_BYTES) -> APIRouter:
    """The ``/dss/v1`` routes over ``dss``, checking tokens with ``authenticator`` and
    each client's rate with ``limiter`` (none: unlimited)."""
    router = APIRouter(prefix="/dss/v1", tags=["dss"])

    async def serve(request: Request, status: int, call: Callable[[Caller, object], Any],
                    with_body: bool, with_413: bool = False) -> Response:
        return await serve_call(request, status, call, with_body, authenticator, limiter,
                                max_body_bytes, with_413)

    # operational intent references
    @router.post("/operational_intent_references/query")
    async def query_operational_intent_references(request: Request) -> Response:
        return await serve(request, 200, dss.query_operational_intents, True, True)

    @router.get("/operational_intent_references/{entityid}")
    async def get_operational_intent_reference(request: Request, entityid: str
                                               ) -> Response:
        return await serve(request, 200,
                           lambda c, _: dss.get_operational_intent(c, entityid), False)

    @router.put("/operational_intent_references/{entityid}")
    async def create_operational_intent_reference(request: Request, entityid: str
                                                  ) -> Response:
        return await serve(request, 201,
                           lambda c, b: dss.put_operational_intent(c, entityid, None, b),
                           True, True)

    @router.put("/operational_intent_references/{entityid}/{ovn}")
    async def update_operational_intent_reference(request: Request, entityid: str, ovn: str
                                                  ) -> Response:
        return await serve(request, 200,
                           lambda c, b: dss.put_operational_intent(c, entityid, ovn, b), True, True)

    @router.delete("/operational_intent_references/{entityid}/{ovn}")
    async def delete_operational_intent_reference(request: Request, entityid: str, ovn: str
                                                  ) -> Response:
        return await serve(request, 200,
                           lambda c, _: dss.delete_operational_intent(c, entityid, ovn), False)

    # constraint references
    @router.post("/constraint_references/query")
    async def query_constraint_references(request: Request) -> Response:
        return await serve(request, 200, dss.query_constraints, True, True)

    @router.get("/constraint_references/{entityid}")
    async def get_constraint_reference(request: Request, entityid: str) -> Response:
        return await serve(request, 200, lambda c, _: dss.get_constraint(c, entityid), False)

    @router.put("/constraint_references/{entityid}")
    async def create_constraint_reference(request: Request, entityid: str) -> Response:
        return await serve(request, 201,
                           lambda c, b: dss.put_constraint(c, entityid, None, b), True, True)

    @router.put("/constraint_references/{entityid}/{ovn}")
    async def update_constraint_reference(request: Request, entityid: str, ovn: str
                                          ) -> Response:
        return await serve(request, 200,
                           lambda c, b: dss.put_constraint(c, entityid, ovn, b), True, True)

    @router.delete("/constraint_references/{entityid}/{ovn}")
    async def delete_constraint_reference(request: Request, entityid: str, ovn: str
                                          ) -> Response:
        return await serve(request, 200,
                           lambda c, _: dss.delete_constraint(c, entityid, ovn), False)

    # subscriptions
    @router.post("/subscriptions/query")
    async def query_subscriptions(request: Request) -> Response:
        return await serve(request, 200, dss.query_subscriptions, True, True)

    @router.get("/subscriptions/{subscriptionid}")
    async def get_subscription(request: Request, subscriptionid: str) -> Response:
        return await serve(request, 200,
                           lambda c, _: dss.get_subscription(c, subscriptionid), False)

    @router.put("/subscriptions/{subscriptionid}")
    async def create_subscription(request: Request, subscriptionid: str) -> Response:
        return await serve(request, 200,
                           lambda c, b: dss.put_subscription(c, subscriptionid, None, b), True)

    @router.put("/subscriptions/{subscriptionid}/{version}")
    async def update_subscription(request: Request, subscriptionid: str, version: str
                                  ) -> Response:
        return await serve(request, 200,
                           lambda c, b: dss.put_subscription(c, subscriptionid, version, b),
                           True)

    @router.delete("/subscriptions/{subscriptionid}/{version}")
    async def delete_subscription(request: Request, subscriptionid: str, version: str
                                  ) -> Response:
        return await serve(request, 200,
                           lambda c, _: dss.delete_subscription(c, subscriptionid, version),
                           False)

    # reports and availability
    @router.post("/reports")
    async def make_dss_report(request: Request) -> Response:
        return await serve(request, 201, dss.make_report, True)

    @router.get("/uss_availability/{uss_id}")
    async def get_uss_availability(request: Request, uss_id: str) -> Response:
        return await serve(request, 200, lambda c, _: dss.get_availability(c, uss_id), False)

    @router.put("/uss_availability/{uss_id}")
    async def set_uss_availability(request: Request, uss_id: str) -> Response:
        return await serve(request, 200,
                           lambda c, b: dss.set_availability(c, uss_id, b), True)

    return router


def create_app(dss: Dss, authenticator: Authenticator, *,
               limiter: RateLimiter | None = None,
               max_body_bytes: int = MAX_BODY_BYTES) -> FastAPI:
    """A stand-alone DSS app: the router and an unauthenticated ``GET /healthy``."""
    app = FastAPI(title="skyaccord DSS (ASTM F3548-21)", docs_url=None, redoc_url=None)
    app.include_router(dss_router(dss, authenticator, limiter=limiter,
                                  max_body_bytes=max_body_bytes))

    @app.get("/healthy")
    async def healthy() -> dict[str, str]:
        return {"status": "ok"}

    return app
