"""A party's USS face in F3548-21 (the ``p2p_utm`` part of the interface document): what
another USS needs from a skyaccord node once the DSS has named the node's operational
intent to it, and what it sends back.

* ``GET /uss/v1/operational_intents/{entityid}``: the details of one of the node's
  published intents (reference with its OVN, volumes): how F3548 software learns the
  OVN the DSS wants in its key. 404 for anything not published (the document: before
  the DSS accepted it, too). ``priority`` is left out (the document's default 0): the
  accord's priorities are the parties' own business.
* ``POST /uss/v1/operational_intents``: another USS telling the node of a change in an
  area its subscription covers; kept (the last :data:`MAX_KEPT`) with who sent it, and
  passed to ``on_notice``. 403 when the sender is not the manager the reference names,
  409 for a version lower than one already received (or the same version, changed).
* The node's own notifications: after each write the DSS names the subscribers; the
  node posts them the change (in a background thread, a few seconds' timeout each: a
  slow rival USS does not hold the operator's request).

Tokens: incoming ones are checked like the DSS's (:class:`~.auth.Authenticator`, the
node's USS audience); outgoing ones are the node's own (:class:`~.auth.TokenSigner`),
with ``aud`` the host name of the USS addressed.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict, deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import Response

from skyaccord.errors import InputError, NotFound, PermissionDenied, SkyaccordError
from skyaccord.strategic.volumes import Intent, IntentState

from . import auth
from .api import MAX_BODY_BYTES, RateLimiter, serve_call
from .client import Published, Publisher
from .geometry import parse_volumes
from .service import VersionConflict, check_id

__all__ = ["MAX_KEPT", "Publishing", "UssSide", "uss_router"]

MAX_KEPT = 1000
_MAX_IDS = 100_000
_MAX_SUBSCRIPTIONS = 1000
log = logging.getLogger("skyaccord.dss.uss")


class UssSide:
    """The node's published intents' details, the notifications received, and the
    notifications it sends (through ``http``, signed by ``signer``)."""

    def __init__(self, uss_base_url: str, signer: auth.TokenSigner | None = None,
                 http: httpx.Client | None = None,
                 on_notice: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.uss_base_url = uss_base_url
        self.signer = signer
        self.http = http or httpx.Client(timeout=5.0)
        self.on_notice = on_notice
        self.details: dict[str, dict[str, Any]] = {}
        self.received: deque[dict[str, Any]] = deque(maxlen=MAX_KEPT)
        self.sent: deque[dict[str, Any]] = deque(maxlen=MAX_KEPT)
        self._versions: OrderedDict[str, tuple[int, str]] = OrderedDict()
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="uss-notify")

    # ----------------------------------------------------------------- our own intents

    def record(self, published: Published, deleted: bool = False) -> None:
        """Keep (or drop) the details of our reference, then tell its subscribers."""
        op: dict[str, Any] | None = None
        with self._lock:
            if deleted:
                self.details.pop(published.id, None)
            else:
                op = {"reference": dict(published.reference),
                      "details": {"volumes": list(published.extents),
                                  "off_nominal_volumes": []}}
                self.details[published.id] = op
        if self.signer is not None and published.subscribers:
            self._pool.submit(self._notify, published, op)

    def _notify(self, published: Published, op: dict[str, Any] | None) -> None:
        assert self.signer is not None
        for group in published.subscribers:
            url = str(group.get("uss_base_url", ""))
            if url == self.uss_base_url or not url.startswith(("http://", "https://")):
                continue  # ourselves: nothing to tell
            body: dict[str, Any] = {"operational_intent_id": published.id,
                                    "subscriptions": group.get("subscriptions", [])}
            if op is not None:
                body["operational_intent"] = op
            host = urlsplit(url).hostname or url
            try:
                r = self.http.post(f"{url}/uss/v1/operational_intents", json=body, headers={
                    "Authorization": f"Bearer {self.signer.token(host)}"})
                outcome = str(r.status_code)
            except httpx.HTTPError as exc:
                outcome = f"no answer: {exc}"
            entry = {"to": url, "id": published.id, "version": published.version,
                     "outcome": outcome}
            with self._lock:
                self.sent.append(entry)
            if outcome != "204":
                log.warning("telling %s of %s v%s: %s", url, published.id,
                            published.version, outcome)

    def get_details(self, caller: auth.Caller, entity_id: str) -> dict[str, Any]:
        caller.require_any(((auth.STRATEGIC_COORDINATION,),))
        eid = check_id(entity_id, "entityid")
        with self._lock:
            op = self.details.get(eid)
        if op is None:
            raise NotFound(f"no operational intent {eid} of this USS")
        return {"operational_intent": op}

    # -------------------------------------------------------------- others' notices

    def notified(self, caller: auth.Caller, body: object) -> None:
        caller.require_any(((auth.STRATEGIC_COORDINATION,),))
        if not isinstance(body, dict):
            raise InputError("the request body must be a JSON object")
        eid = body.get("operational_intent_id")
        if not isinstance(eid, str):
            raise InputError("operational_intent_id: required, a UUIDv4")
        eid = check_id(eid, "operational_intent_id")
        subs = body.get("subscriptions")
        if (not isinstance(subs, list) or not 1 <= len(subs) <= _MAX_SUBSCRIPTIONS
                or not all(isinstance(s, dict) and isinstance(s.get("subscription_id"), str)
                           and isinstance(s.get("notification_index"), int)
                           and not isinstance(s.get("notification_index"), bool)
                           and s["notification_index"] >= 0 for s in subs)):
            raise InputError(f"subscriptions: 1 to {_MAX_SUBSCRIPTIONS} "
                             "{subscription_id, notification_index} objects")
        op = body.get("operational_intent")
        version: int | None = None
        if op is not None:
            if not isinstance(op, dict) or not isinstance(op.get("reference"), dict):
                raise InputError("operational_intent: must hold a reference")
            ref = op["reference"]
            if ref.get("id", eid) != eid:
                raise InputError("operational_intent.reference.id: is not "
                                 "operational_intent_id")
            if ref.get("manager") != caller.sub:
                raise PermissionDenied(f"{caller.sub} is not the manager "
                                       f"({str(ref.get('manager'))[:80]}) of {eid}")
            v = ref.get("version")
            if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < 2**31:
                raise InputError("operational_intent.reference.version: an int32")
            if not isinstance(ref.get("ovn"), str) or not ref["ovn"]:
                raise InputError("operational_intent.reference.ovn: required")
            details = op.get("details", {})
            if not isinstance(details, dict):
                raise InputError("operational_intent.details: must be an object")
            for k in ("volumes", "off_nominal_volumes"):
                if details.get(k):
                    parse_volumes(details[k], f"operational_intent.details.{k}")
            version = v
        digest = repr(op)
        with self._lock:
            last = self._versions.get(eid)
            if version is not None and last is not None and (
                    version < last[0] or (version == last[0] and digest != last[1])):
                raise VersionConflict(f"version {version} of {eid} is older than, or differs "
                                      f"from, version {last[0]} already received")
            if version is None:
                self._versions.pop(eid, None)
            else:
                self._versions[eid] = (version, digest)
                self._versions.move_to_end(eid)
                while len(self._versions) > _MAX_IDS:
                    self._versions.popitem(last=False)
            notice = {"from": caller.sub, "id": eid, "version": version,
                      "deleted": op is None, "subscriptions": subs,
                      "operational_intent": op}
            self.received.append(notice)
        if self.on_notice is not None:
            try:
                self.on_notice(notice)
            except SkyaccordError:
                log.exception("the notice of %s could not be passed on", eid)

    def notices(self) -> dict[str, list[dict[str, Any]]]:
        """What other USSs told us and what we told them, oldest first."""
        with self._lock:
            return {"received": list(self.received), "sent": list(self.sent)}

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=False)
        self.http.close()


class Publishing:
    """A node's intents in an F3548 DSS: written there before the node's own registry
    (so that a refusal there leaves nothing stored here), put back as they were when the
    registry then refuses, withdrawn when they end; the details kept for other USSs and
    the subscribers told (:class:`UssSide`)."""

    def __init__(self, publisher: Publisher, side: UssSide) -> None:
        self.publisher = publisher
        self.side = side

    def write(self, intent: Intent) -> Published:
        """Create or update ``intent``'s reference (IntentConflict: refused there)."""
        published = self.publisher.publish(intent)
        assert published is not None  # only an ended intent gives None
        return published

    def done(self, published: Published) -> dict[str, Any]:
        """The write stands: keep its details, tell its subscribers; a summary for the
        operator."""
        self.side.record(published)
        return {"reference": published.id, "version": published.version,
                "subscribers": [g.get("uss_base_url") for g in published.subscribers]}

    def undo(self, previous: Intent | None, intent: Intent) -> None:
        """Put the reference back as ``previous`` (None: it was new, so delete it)."""
        if previous is None or previous.state == IntentState.ENDED:
            self.withdraw(intent)
        else:
            self.side.record(self.write(previous))

    def withdraw(self, intent: Intent) -> dict[str, Any]:
        """Delete ``intent``'s reference (it ended)."""
        from dataclasses import replace

        gone = self.publisher.publish(replace(intent, state=IntentState.ENDED))
        if gone is None:
            return {"withdrawn": False}
        self.side.record(gone, deleted=True)
        return {"withdrawn": True, "reference": gone.id}


def uss_router(side: UssSide, authenticator: auth.Authenticator, *,
               limiter: RateLimiter | None = None,
               max_body_bytes: int = MAX_BODY_BYTES) -> APIRouter:
    """``/uss/v1/operational_intents``: details of our intents, notices of others'."""
    router = APIRouter(prefix="/uss/v1", tags=["uss"])

    @router.get("/operational_intents/{entityid}")
    async def get_operational_intent_details(request: Request, entityid: str) -> Response:
        return await serve_call(request, 200, lambda c, _: side.get_details(c, entityid),
                                False, authenticator, limiter, max_body_bytes)

    @router.post("/operational_intents")
    async def notify_operational_intent_details_changed(request: Request) -> Response:
        return await serve_call(request, 204, side.notified, True, authenticator, limiter,
                                max_body_bytes)

    return router
