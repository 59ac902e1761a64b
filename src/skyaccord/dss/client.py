"""Publishing a party's intents as F3548-21 operational intent references in a DSS (ours or
any other), so that a party using skyaccord and one using other F3548 software learn of
each other's plans through one DSS.

:class:`Publisher` speaks the USS→DSS interface over HTTP (an ``httpx.Client``: a real
one, or the ASGI test client): for each intent it reads the references already in its
extents, keys its write with the OVNs it knows (its own, which the DSS shows to their
manager, and any given to it, e.g. learnt from the other USSs' details), and creates,
updates or deletes the reference. A write the DSS refuses for want of other managers'
OVNs: given ``peer_token`` (a token for another USS, by its host name), the publisher
does what F3548 has a USS do: it reads each reference's details from its manager's USS
(``GET {uss_base_url}/uss/v1/operational_intents/{id}``) and, when none of their volumes
meets ours (a DSS that answers by coarse cells names references that do not), writes again
with their OVNs; otherwise (or without ``peer_token``, or when a USS does not answer) it
raises :class:`~skyaccord.errors.IntentConflict` naming the references that conflict.

The OVNs of its own references are kept in memory and, when unknown (after a restart),
read back from the DSS (which shows a reference's OVN to its manager). A DSS that does not
answer is :class:`DssUnavailable` (503): the caller decides whether to write without it.

An intent's id becomes a UUIDv4 derived from its party and id (the DSS wants UUIDv4 ids);
its volumes go as the document's ``Volume4D`` (:func:`skyaccord.strategic.codec.intent_to_f3548`:
feet to metres W84); ``ended`` deletes the reference.
"""

from __future__ import annotations

import hashlib
import json
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from skyaccord.errors import IntentConflict, SkyaccordError
from skyaccord.strategic.codec import intent_to_f3548
from skyaccord.strategic.volumes import Intent, IntentState

__all__ = ["MAX_DETAILS", "DssUnavailable", "Published", "Publisher", "reference_id"]

#: Most references whose details a refused write asks their USSs for
MAX_DETAILS = 20
#: Largest answer read from a DSS (a query naming thousands of references fits), and
#: from another USS (one intent's details)
MAX_ANSWER_BYTES = 32 * 1024 * 1024
MAX_DETAILS_BYTES = 4 * 1024 * 1024


def bounded_json(http: httpx.Client, method: str, url: str, limit: int, **kw: Any
                 ) -> tuple[int, Any]:
    """(status, JSON) of a request, reading at most ``limit`` bytes of the answer (a
    hostile server's endless body is cut: ``{"message": ...}``, as is one not JSON)."""
    with http.stream(method, url, **kw) as r:
        chunks, size = [], 0
        for chunk in r.iter_bytes():
            size += len(chunk)
            if size > limit:
                return r.status_code, {"message": f"the answer is over {limit} bytes"}
            chunks.append(chunk)
    data = b"".join(chunks)
    try:
        return r.status_code, json.loads(data)
    except ValueError:
        return r.status_code, {"message": data[:200].decode("utf-8", "replace")}

_STATES = {IntentState.ACCEPTED: "Accepted", IntentState.ACTIVATED: "Activated",
           IntentState.NONCONFORMING: "Nonconforming",
           IntentState.CONTINGENT: "Contingent"}


class DssUnavailable(SkyaccordError):
    """The DSS did not answer, or answered what F3548 does not allow."""

    kind = "dss-unavailable"
    http_status = 503
    exit_code = 1


def reference_id(party: str, intent_id: str) -> str:
    """The UUIDv4 of a party's intent in a DSS (the same on every call and machine)."""
    digest = hashlib.sha256(f"skyaccord:{party}:{intent_id}".encode()).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


@dataclass(frozen=True, slots=True)
class Published:
    """What the DSS answered: the reference's id, version and OVN, the subscribers this
    publisher must now notify (the document's ``subscribers``), the reference itself and
    the extents written (empty for a deletion)."""

    id: str
    version: int
    ovn: str
    subscribers: list[dict[str, Any]]
    reference: dict[str, Any] = field(default_factory=dict)
    extents: list[dict[str, Any]] = field(default_factory=list)


def _missing_text(m: Mapping[str, Any]) -> str:
    return (f"{m.get('id')} (manager {m.get('manager')}, {m.get('uss_base_url')}, "
            f"{_t(m.get('time_start'))} to {_t(m.get('time_end'))})")


def _t(value: Any) -> str:
    return str(value.get("value")) if isinstance(value, dict) else "?"


class Publisher:
    """Publishes ``party``'s intents through ``http`` (base URL: the DSS's root) with the
    bearer token ``token()`` gives (scope ``utm.strategic_coordination``)."""

    def __init__(self, http: httpx.Client, token: Callable[[], str], party: str,
                 uss_base_url: str, *, peer_token: Callable[[str], str] | None = None,
                 peers: httpx.Client | None = None) -> None:
        self.http = http
        self.token = token
        self.party = party
        self.uss_base_url = uss_base_url
        self.peer_token = peer_token
        self.peers = peers
        self.ovns: dict[str, str] = {}  # reference id -> the OVN of our last write
        self._lock = threading.Lock()

    def _call(self, method: str, path: str, body: object = None) -> tuple[int, Any]:
        try:
            status, payload = bounded_json(
                self.http, method, path, MAX_ANSWER_BYTES, json=body,
                headers={"Authorization": f"Bearer {self.token()}"})
        except httpx.HTTPError as exc:
            raise DssUnavailable(f"the DSS at {self.http.base_url} did not answer: {exc}"
                                 ) from exc
        if not isinstance(payload, dict):
            payload = {"message": str(payload)[:200]}
        return status, payload

    def current_ovn(self, rid: str) -> str | None:
        """The OVN of our reference ``rid``: as last written, else as the DSS shows it to
        us (its manager), else None (no such reference)."""
        if rid in self.ovns:
            return self.ovns[rid]
        status, out = self._call("GET", f"/dss/v1/operational_intent_references/{rid}")
        if status == 404:
            return None
        ref = out.get("operational_intent_reference") if status == 200 else None
        if not isinstance(ref, dict) or not ref.get("ovn"):
            raise DssUnavailable(f"the DSS answered {status} for our reference {rid}: "
                                 f"{out.get('message', '')}")
        self.ovns[rid] = str(ref["ovn"])
        return self.ovns[rid]

    def publish(self, intent: Intent, known_ovns: Mapping[str, str] | None = None
                ) -> Published | None:
        """Create, update or (state ``ended``) delete ``intent``'s reference; None when
        an ended intent had none. Raises IntentConflict when other managers' OVNs are
        missing from the key (``details["missing"]``: their references)."""
        with self._lock:  # one write per reference at a time: the OVN chain is ours
            return self._publish(intent, known_ovns)

    def _publish(self, intent: Intent, known_ovns: Mapping[str, str] | None
                 ) -> Published | None:
        rid = reference_id(self.party, intent.id)
        if intent.state == IntentState.ENDED:
            return self._withdraw(rid)
        extents = intent_to_f3548(intent)["details"]["volumes"]
        key = set((known_ovns or {}).values())
        for vol in extents:
            status, out = self._call("POST", "/dss/v1/operational_intent_references/query",
                                     {"area_of_interest": vol})
            if status != 200:
                raise DssUnavailable(f"the DSS refused a query ({status}): "
                                     f"{out.get('message', '')}")
            key |= {r["ovn"] for r in out.get("operational_intent_references", [])
                    if isinstance(r, dict) and r.get("ovn")}
        body: dict[str, Any] = {"extents": extents, "state": _STATES[intent.state],
                                "uss_base_url": self.uss_base_url, "key": sorted(key),
                                "new_subscription": {"uss_base_url": self.uss_base_url}}
        old = self.current_ovn(rid)
        path = f"/dss/v1/operational_intent_references/{rid}"
        status, out = self._call("PUT", path if old is None else f"{path}/{old}", body)
        if (status == 409 and out.get("missing_operational_intents")
                and not out.get("missing_constraints") and self.peer_token is not None):
            learnt = self._clear_of(out["missing_operational_intents"], extents)
            if learnt is not None:  # none of them meets ours: write again with their OVNs
                body["key"] = sorted(key | set(learnt))
                status, out = self._call("PUT", path if old is None else f"{path}/{old}",
                                         body)
        if status == 409 and "missing_operational_intents" in out:
            missing = [*out.get("missing_operational_intents", []),
                       *out.get("missing_constraints", [])]
            raise IntentConflict(
                f"intent {intent.id}: the DSS refused it: it meets {len(missing)} "
                "reference(s) of other managers whose OVNs we do not hold: "
                + "; ".join(_missing_text(m) for m in missing),
                details={"dss_missing": missing, "dss_reference": rid})
        if status == 409:  # our OVN is stale: someone wrote it meanwhile (another instance)
            self.ovns.pop(rid, None)
        if status in (400, 403, 409, 413):
            raise IntentConflict(f"intent {intent.id}: the DSS refused it ({status}): "
                                 f"{out.get('message', '')}",
                                 details={"dss_status": status, "dss_reference": rid})
        if status not in (200, 201):
            raise DssUnavailable(f"the DSS refused intent {intent.id} ({status}): "
                                 f"{out.get('message', '')}")
        ref = out["operational_intent_reference"]
        self.ovns[rid] = ref["ovn"]
        return Published(rid, int(ref["version"]), ref["ovn"], out.get("subscribers", []),
                         ref, extents)

    def _clear_of(self, missing: list[Any], extents: list[dict[str, Any]]
                  ) -> list[str] | None:
        """The OVNs of ``missing`` (references the DSS named) read from their managers'
        USSs when none of their volumes meets ``extents``; None when one does, or cannot
        be read (at most :data:`MAX_DETAILS` of them are asked)."""
        from .geometry import intersects, parse_volumes

        assert self.peer_token is not None
        if len(missing) > MAX_DETAILS:
            return None
        ours = parse_volumes(extents, "extents")
        peers = self.peers or self.http
        ovns = []
        for m in missing:
            url = str(m.get("uss_base_url", "")) if isinstance(m, dict) else ""
            if not url.startswith(("http://", "https://")):
                return None
            host = urlsplit(url).hostname or url
            try:
                status, answer = bounded_json(
                    peers, "GET", f"{url}/uss/v1/operational_intents/{m['id']}",
                    MAX_DETAILS_BYTES, timeout=5.0,
                    headers={"Authorization": f"Bearer {self.peer_token(host)}"})
                if status != 200:
                    return None
                op = answer["operational_intent"]
                ref, details = op["reference"], op["details"]
                theirs = [*details.get("volumes", []),
                          *details.get("off_nominal_volumes", [])]
                if ref["id"] != m["id"] or not isinstance(ref.get("ovn"), str):
                    return None
                if intersects(parse_volumes(theirs, "details"), ours):
                    return None
            except (httpx.HTTPError, ValueError, KeyError, TypeError, SkyaccordError):
                return None
            ovns.append(ref["ovn"])
        return ovns

    def _withdraw(self, rid: str) -> Published | None:
        old = self.current_ovn(rid)
        if old is None:
            return None
        status, out = self._call("DELETE",
                                 f"/dss/v1/operational_intent_references/{rid}/{old}")
        if status == 404:
            self.ovns.pop(rid, None)
            return None
        if status != 200:
            raise DssUnavailable(f"the DSS refused to delete {rid} ({status}): "
                                 f"{out.get('message', '')}")
        del self.ovns[rid]
        ref = out["operational_intent_reference"]
        return Published(rid, int(ref["version"]), old, out.get("subscribers", []), ref)
