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
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from skyaccord.errors import InputError, PayloadTooLarge, SkyaccordError

from .auth import Authenticator, Caller
from .service import AirspaceConflict, Dss

__all__ = ["MAX_BODY_BYTES", "create_app", "dss_router"]

#: Largest request body accepted (a 1,000-volume, 10,000-vertex intent fits).
MAX_BODY_BYTES = 2 * 1024 * 1024


def _error(exc: SkyaccordError) -> JSONResponse:
    body: dict[str, Any] = (exc.body if isinstance(exc, AirspaceConflict)
                            else {"message": str(exc)})
    headers = {"WWW-Authenticate": 'Bearer error="invalid_token"'} \
        if exc.http_status == 401 else None
    return JSONResponse(body, status_code=exc.http_status, headers=headers)


async def _body(request: Request) -> object:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"the request body is over {MAX_BODY_BYTES} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise PayloadTooLarge(f"the request body is over {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
    try:
        return json.loads(b"".join(chunks))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"the request body is not JSON: {exc}") from None


def dss_router(dss: Dss, authenticator: Authenticator) -> APIRouter:
    """The ``/dss/v1`` routes over ``dss``, checking tokens with ``authenticator``."""
    router = APIRouter(prefix="/dss/v1", tags=["dss"])

    async def serve(request: Request, status: int, call: Callable[[Caller, object], Any],
                    with_body: bool) -> JSONResponse:
        try:
            caller = authenticator.caller(request.headers.get("authorization"))
            body = await _body(request) if with_body else None
            result = await run_in_threadpool(call, caller, body)
        except SkyaccordError as exc:
            return _error(exc)
        return JSONResponse(result, status_code=status)

    # operational intent references
    @router.post("/operational_intent_references/query")
    async def query_operational_intent_references(request: Request) -> JSONResponse:
        return await serve(request, 200, dss.query_operational_intents, True)

    @router.get("/operational_intent_references/{entityid}")
    async def get_operational_intent_reference(request: Request, entityid: str
                                               ) -> JSONResponse:
        return await serve(request, 200,
                           lambda c, _: dss.get_operational_intent(c, entityid), False)

    @router.put("/operational_intent_references/{entityid}")
    async def create_operational_intent_reference(request: Request, entityid: str
                                                  ) -> JSONResponse:
        return await serve(request, 201,
                           lambda c, b: dss.put_operational_intent(c, entityid, None, b), True)

    @router.put("/operational_intent_references/{entityid}/{ovn}")
    async def update_operational_intent_reference(request: Request, entityid: str, ovn: str
                                                  ) -> JSONResponse:
        return await serve(request, 200,
                           lambda c, b: dss.put_operational_intent(c, entityid, ovn, b), True)

    @router.delete("/operational_intent_references/{entityid}/{ovn}")
    async def delete_operational_intent_reference(request: Request, entityid: str, ovn: str
                                                  ) -> JSONResponse:
        return await serve(request, 200,
                           lambda c, _: dss.delete_operational_intent(c, entityid, ovn), False)

    # constraint references
    @router.post("/constraint_references/query")
    async def query_constraint_references(request: Request) -> JSONResponse:
        return await serve(request, 200, dss.query_constraints, True)

    @router.get("/constraint_references/{entityid}")
    async def get_constraint_reference(request: Request, entityid: str) -> JSONResponse:
        return await serve(request, 200, lambda c, _: dss.get_constraint(c, entityid), False)

    @router.put("/constraint_references/{entityid}")
    async def create_constraint_reference(request: Request, entityid: str) -> JSONResponse:
        return await serve(request, 201,
                           lambda c, b: dss.put_constraint(c, entityid, None, b), True)

    @router.put("/constraint_references/{entityid}/{ovn}")
    async def update_constraint_reference(request: Request, entityid: str, ovn: str
                                          ) -> JSONResponse:
        return await serve(request, 200,
                           lambda c, b: dss.put_constraint(c, entityid, ovn, b), True)

    @router.delete("/constraint_references/{entityid}/{ovn}")
    async def delete_constraint_reference(request: Request, entityid: str, ovn: str
                                          ) -> JSONResponse:
        return await serve(request, 200,
                           lambda c, _: dss.delete_constraint(c, entityid, ovn), False)

    # subscriptions
    @router.post("/subscriptions/query")
    async def query_subscriptions(request: Request) -> JSONResponse:
        return await serve(request, 200, dss.query_subscriptions, True)

    @router.get("/subscriptions/{subscriptionid}")
    async def get_subscription(request: Request, subscriptionid: str) -> JSONResponse:
        return await serve(request, 200,
                           lambda c, _: dss.get_subscription(c, subscriptionid), False)

    @router.put("/subscriptions/{subscriptionid}")
    async def create_subscription(request: Request, subscriptionid: str) -> JSONResponse:
        return await serve(request, 200,
                           lambda c, b: dss.put_subscription(c, subscriptionid, None, b), True)

    @router.put("/subscriptions/{subscriptionid}/{version}")
    async def update_subscription(request: Request, subscriptionid: str, version: str
                                  ) -> JSONResponse:
        return await serve(request, 200,
                           lambda c, b: dss.put_subscription(c, subscriptionid, version, b),
                           True)

    @router.delete("/subscriptions/{subscriptionid}/{version}")
    async def delete_subscription(request: Request, subscriptionid: str, version: str
                                  ) -> JSONResponse:
        return await serve(request, 200,
                           lambda c, _: dss.delete_subscription(c, subscriptionid, version),
                           False)

    # reports and availability
    @router.post("/reports")
    async def make_dss_report(request: Request) -> JSONResponse:
        return await serve(request, 201, dss.make_report, True)

    @router.get("/uss_availability/{uss_id}")
    async def get_uss_availability(request: Request, uss_id: str) -> JSONResponse:
        return await serve(request, 200, lambda c, _: dss.get_availability(c, uss_id), False)

    @router.put("/uss_availability/{uss_id}")
    async def set_uss_availability(request: Request, uss_id: str) -> JSONResponse:
        return await serve(request, 200,
                           lambda c, b: dss.set_availability(c, uss_id, b), True)

    return router


def create_app(dss: Dss, authenticator: Authenticator) -> FastAPI:
    """A stand-alone DSS app: the router and an unauthenticated ``GET /healthy``."""
    app = FastAPI(title="skyaccord DSS (ASTM F3548-21)", docs_url=None, redoc_url=None)
    app.include_router(dss_router(dss, authenticator))

    @app.get("/healthy")
    async def healthy() -> dict[str, str]:
        return {"status": "ok"}

    return app
