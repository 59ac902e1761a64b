"""The DSS's rules (ASTM F3548-21 as its interface document states them,
``../shared/f3548/utm.yaml``), over :mod:`skyaccord.dss.db`.

Each public method of :class:`Dss` is one endpoint: it takes the :class:`~.auth.Caller`
and the request's JSON, and answers the response's JSON or raises an error whose
``http_status`` is the answer's status. The rules, in one place:

* **Entities** (operational intent and constraint references) carry a ``version``
  (1, 2, ...) and an opaque ``ovn`` (a fresh random token per write, shown only to the
  entity's ``manager``: the token ``sub`` that wrote it). An update or delete names the
  current OVN in its path, else 409; another manager's update or delete is 403.
* **The key**: an operational intent written in state Accepted or Activated must name,
  in ``key``, the current OVN of every other live operational intent that its extents
  meet, and of every live constraint too when its subscription notifies for
  constraints; otherwise 409 ``AirspaceConflictResponse`` listing the missing ones.
  Nonconforming and Contingent writes are not checked (the document's
  ``PutOperationalIntentReferenceParameters.key``).
* **States**: a new intent is Accepted; Accepted → Accepted, Activated; Activated →
  Activated; Nonconforming → Activated; and any state but Contingent may go to
  Nonconforming, any to Contingent. Nonconforming and Contingent need the scope
  ``utm.conformance_monitoring_sa``, Accepted and Activated ``utm.strategic_coordination``.
  A manager marked Down may not write an intent Accepted or Activated, nor delete one
  (412).
* **Subscriptions**: an intent names a subscription of its manager that notifies for
  operational intents and covers its extents (space, altitude, time), or asks for an
  implicit one (``new_subscription``: it covers the intent's extents, follows its
  updates, and goes with the intent's deletion when no other intent depends on it).
  Activated, Nonconforming and Contingent intents must have one. A subscription that
  intents depend on may not be deleted, nor updated so that it stops covering them
  (400). Explicit subscriptions last at most 24 h (``DSSMaxSubscriptionDurationHours``).
* **Notifications**: every change answers ``subscribers``: the live subscriptions whose
  volumes meet the entity's old or new extents and that notify for its kind (the
  caller's own included), grouped by ``uss_base_url``; each one's
  ``notification_index`` counts up by one per change.
* **Expiry**: an entity or subscription whose time_end has passed is gone: it is not
  found, not searched, and its rows are removed by the next write.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from skyaccord.errors import InputError, NotFound, PermissionDenied, SkyaccordError

from . import auth
from .db import Db, Tx
from .geometry import (
    Box,
    Volume,
    covers,
    format_time,
    intersects,
    parse_time,
    parse_volume,
    parse_volumes,
    volume_of_record,
    volume_record,
)

__all__ = [
    "NULL_SUBSCRIPTION",
    "AirspaceConflict",
    "Dss",
    "Limits",
    "TooMany",
    "UssDown",
    "VersionConflict",
]

#: The subscription id of an intent without one (the document requires the field; this
#: is the all-zero UUID made a valid UUIDv4, as the InterUSS DSS answers).
NULL_SUBSCRIPTION = "00000000-0000-4000-8000-000000000000"
_UUID4 = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-4[0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-"
                    r"[0-9a-fA-F]{12}$")
#: F3548-21 constants (as uas_standards ``astm/f3548/v21/constants.py`` lists them)
MAX_SUBSCRIPTION_S = 24 * 3600.0  # DSSMaxSubscriptionDurationHours
MAX_PLAN_HORIZON_S = 30 * 86400.0  # OiMaxPlanHorizonDays
MAX_KEY = 10_000
PURGE_EVERY_S = 10.0
MAX_URL = 2048
STATES = ("Accepted", "Activated", "Nonconforming", "Contingent")
OFF_NOMINAL = frozenset({"Nonconforming", "Contingent"})
#: (from, to) pairs allowed, None = a new intent
TRANSITIONS = frozenset({
    (None, "Accepted"),
    ("Accepted", "Accepted"), ("Accepted", "Activated"), ("Accepted", "Nonconforming"),
    ("Accepted", "Contingent"),
    ("Activated", "Activated"), ("Activated", "Nonconforming"), ("Activated", "Contingent"),
    ("Nonconforming", "Nonconforming"), ("Nonconforming", "Activated"),
    ("Nonconforming", "Contingent"),
    ("Contingent", "Contingent"),
})
AVAILABILITY = ("Unknown", "Normal", "Down")


class VersionConflict(SkyaccordError):
    """The entity exists already, or the version named is not the current one."""

    kind = "version-conflict"
    http_status = 409


class AirspaceConflict(SkyaccordError):
    """The key did not name every relevant entity's current OVN; ``body`` is the
    document's ``AirspaceConflictResponse``."""

    kind = "airspace-conflict"
    http_status = 409

    def __init__(self, message: str, body: dict[str, Any]) -> None:
        super().__init__(message)
        self.body = body


class TooMany(SkyaccordError):
    """The manager holds as many live explicit subscriptions as this DSS allows one
    client (the document's 429; the InterUSS DSS answers the same)."""

    kind = "too-many"
    http_status = 429


@dataclass(frozen=True, slots=True)
class Limits:
    """What one client may hold (the document leaves these to the DSS)."""

    max_subscriptions_per_manager: int = 1000
    """live explicit subscriptions of one manager (implicit ones go with their intents)"""

    def __post_init__(self) -> None:
        if not 1 <= self.max_subscriptions_per_manager <= 1_000_000:
            raise InputError("max_subscriptions_per_manager: from 1 to 1,000,000")


class UssDown(SkyaccordError):
    """The manager is marked Down and may not make this change."""

    kind = "uss-down"
    http_status = 412


@dataclass(slots=True)
class Entity:
    id: str
    kind: str  # "op" or "cons"
    manager: str
    version: int
    ovn: str
    state: str | None
    uss_base_url: str
    subscription_id: str | None
    t0: float
    t1: float
    volumes: list[Volume]
    availability: str = "Unknown"  # the manager's, as read with the row


@dataclass(slots=True)
class Subscription:
    id: str
    manager: str
    version: str
    notification_index: int
    uss_base_url: str
    notify_ops: bool
    notify_cons: bool
    implicit: bool
    t0: float
    t1: float
    volumes: list[Volume]
    dependents: list[str] = field(default_factory=list)


_E_COLS = ("id, kind, manager, version, ovn, state, uss_base_url, subscription_id, t0, t1, "
           "extents")
#: an entity row with its manager's availability (one round trip for both)
_E_SELECT = (f"SELECT {_E_COLS}, COALESCE((SELECT a.availability FROM dss_availability a "
             "WHERE a.uss = dss_entities.manager), 'Unknown') FROM dss_entities")
_S_COLS = ("id, manager, version, notification_index, uss_base_url, notify_ops, notify_cons, "
           "implicit, t0, t1, extents")


def _extents_json(vols: Sequence[Volume]) -> str:
    return json.dumps([volume_record(v) for v in vols], separators=(",", ":"))


def _entity(r: Sequence[Any]) -> Entity:
    return Entity(r[0], r[1], r[2], int(r[3]), r[4], r[5], r[6], r[7], float(r[8]),
                  float(r[9]), [volume_of_record(x) for x in json.loads(r[10])],
                  r[11] if len(r) > 11 else "Unknown")


def _subscription(r: Sequence[Any]) -> Subscription:
    return Subscription(r[0], r[1], r[2], int(r[3]), r[4], bool(r[5]), bool(r[6]),
                        bool(r[7]), float(r[8]), float(r[9]),
                        [volume_of_record(x) for x in json.loads(r[10])])


def _bounds(vols: Sequence[Volume]) -> tuple[float, float]:
    t0 = [v.t0 for v in vols if v.t0 is not None]
    t1 = [v.t1 for v in vols if v.t1 is not None]
    return min(t0), max(t1)


def check_id(value: str, what: str) -> str:
    if not _UUID4.match(value):
        raise InputError(f"{what}: must be a UUIDv4 (RFC 4122), got {value[:80]!r}")
    return value.lower()


def _obj(body: object, what: str = "the request body") -> dict[str, Any]:
    if not isinstance(body, dict):
        raise InputError(f"{what} must be a JSON object")
    return body


def _url(value: object, where: str) -> str:
    if (not isinstance(value, str) or not re.match(r"^https?://[^\s/]", value)
            or len(value) > MAX_URL):
        raise InputError(f"{where}: must be an http(s) URL of at most {MAX_URL} characters, "
                         f"got {str(value)[:80]!r}")
    if value.endswith("/"):
        raise InputError(f"{where}: may not end with '/' (UssBaseURL)")
    return value


def _bool(body: dict[str, Any], key: str) -> bool:
    value = body.get(key, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise InputError(f"{key}: must be true or false, got {value!r}")
    return value


class Dss:
    """The DSS over ``db``; ``clock`` gives UTC seconds (tests move it)."""

    def __init__(self, db: Db, clock: Callable[[], float] = time.time,
                 limits: Limits | None = None) -> None:
        self.db = db
        self.clock = clock
        self.limits = limits or Limits()
        self._purged_at = -float("inf")

    # ------------------------------------------------------------------ reading helpers

    def _load_entities(self, tx: Tx, ids: Iterable[str]) -> list[Entity]:
        ids = sorted(ids)
        out: list[Entity] = []
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            marks = ",".join("?" * len(chunk))
            out += [_entity(r) for r in tx.rows(
                f"{_E_SELECT} WHERE id IN ({marks})", chunk)]
        return out

    def _get_entity(self, tx: Tx, kind: str, eid: str, now: float) -> Entity | None:
        rows = tx.rows(f"{_E_SELECT} WHERE id = ?", (eid,))
        if not rows:
            return None
        e = _entity(rows[0])
        return e if e.kind == kind and e.t1 >= now else None

    def _claim(self, tx: Tx, kind: str, eid: str, now: float) -> tuple[Entity | None, bool]:
        """The live ``kind`` entity ``eid`` (or None), and whether the id is taken by a
        live entity of any kind; an expired one not yet purged is removed here."""
        rows = tx.rows(f"{_E_SELECT} WHERE id = ?", (eid,))
        if not rows:
            return None, False
        e = _entity(rows[0])
        if e.t1 < now:
            self._delete_entity(tx, e)
            return None, False
        return (e if e.kind == kind else None), True

    def _get_subscription(self, tx: Tx, sid: str, now: float) -> Subscription | None:
        rows = tx.rows(f"SELECT {_S_COLS} FROM dss_subscriptions WHERE id = ?", (sid,))
        if not rows:
            return None
        s = _subscription(rows[0])
        if s.t1 < now:
            return None
        s.dependents = sorted(r[0] for r in tx.rows(
            "SELECT id FROM dss_entities WHERE subscription_id = ? AND t1 >= ?", (sid, now)))
        return s

    def _search_boxes(self, vols: Sequence[Volume], now: float) -> list[Box]:
        """The volumes' boxes, less what ended before ``now`` (expired things are gone)."""
        out = []
        for v in vols:
            b = v.box()
            if b.t1 >= now:
                out.append(Box(b.lat0, b.lat1, b.lng0, b.lng1, b.alt0, b.alt1,
                               max(b.t0, now), b.t1))
        return out

    def _search_entities(self, tx: Tx, kind: str, vols: Sequence[Volume], now: float
                         ) -> list[Entity]:
        boxes = self._search_boxes(vols, now)
        found: list[Entity] = []
        # one round trip per 50 volumes: the index search nested in the row read
        for i in range(0, len(boxes), 50):
            owners, params = tx.owners_sql(kind, boxes[i:i + 50])
            found += [_entity(r) for r in tx.rows(
                f"{_E_SELECT} WHERE id IN ({owners}) AND t1 >= ?",
                [*params, now])]
        unique = {e.id: e for e in found}
        return sorted((e for e in unique.values() if e.kind == kind
                       and intersects(e.volumes, vols)), key=lambda e: e.id)

    def _search_subscriptions(self, tx: Tx, vols: Sequence[Volume], now: float
                              ) -> list[Subscription]:
        boxes = self._search_boxes(vols, now)
        found: list[Subscription] = []
        for i in range(0, len(boxes), 50):
            owners, params = tx.owners_sql("sub", boxes[i:i + 50])
            found += [_subscription(r) for r in tx.rows(
                f"SELECT {_S_COLS} FROM dss_subscriptions WHERE id IN ({owners}) "
                "AND t1 >= ?", [*params, now])]
        unique = {s.id: s for s in found}
        return sorted((s for s in unique.values() if intersects(s.volumes, vols)),
                      key=lambda s: s.id)

    def _availability(self, tx: Tx, uss: str) -> tuple[str, str]:
        rows = tx.rows("SELECT availability, version FROM dss_availability WHERE uss = ?",
                       (uss,))
        return (rows[0][0], rows[0][1]) if rows else ("Unknown", "")

    def _ref(self, tx: Tx, e: Entity, caller: auth.Caller,
             avail: dict[str, str] | None = None) -> dict[str, Any]:
        ref: dict[str, Any] = {
            "id": e.id, "manager": e.manager,
            "uss_availability": (avail or {}).get(e.manager, e.availability),
            "version": e.version, "time_start": format_time(e.t0),
            "time_end": format_time(e.t1), "uss_base_url": e.uss_base_url,
        }
        if e.kind == "op":
            ref["state"] = e.state
            ref["subscription_id"] = e.subscription_id or NULL_SUBSCRIPTION
        if e.manager == caller.sub:
            ref["ovn"] = e.ovn
        return ref

    def _sub_json(self, s: Subscription) -> dict[str, Any]:
        return {
            "id": s.id, "version": s.version, "notification_index": s.notification_index,
            "time_start": format_time(s.t0), "time_end": format_time(s.t1),
            "uss_base_url": s.uss_base_url,
            "notify_for_operational_intents": s.notify_ops,
            "notify_for_constraints": s.notify_cons,
            "implicit_subscription": s.implicit,
            "dependent_operational_intents": list(s.dependents),
        }

    # ------------------------------------------------------------------ writing helpers

    def _purge(self, tx: Tx, now: float) -> None:
        """Remove what has expired (a few hundred per write at most: bounded work), at
        most once per :data:`PURGE_EVERY_S` per instance: what has expired is already
        invisible (every read filters on time_end), so this is only housekeeping."""
        if now - self._purged_at < PURGE_EVERY_S:
            return
        self._purged_at = now
        for (eid, kind) in tx.rows("SELECT id, kind FROM dss_entities WHERE t1 < ? LIMIT 200",
                                   (now,)):
            tx.drop_boxes(kind, eid)
            tx.run("DELETE FROM dss_entities WHERE id = ?", (eid,))
        for (sid,) in tx.rows("SELECT id FROM dss_subscriptions WHERE t1 < ? LIMIT 200",
                              (now,)):
            tx.drop_boxes("sub", sid)
            tx.run("DELETE FROM dss_subscriptions WHERE id = ?", (sid,))

    def _put_entity(self, tx: Tx, e: Entity, exists: bool) -> None:
        row = (e.kind, e.manager, e.version, e.ovn, e.state, e.uss_base_url,
               e.subscription_id, e.t0, e.t1, _extents_json(e.volumes))
        if exists:
            tx.run("UPDATE dss_entities SET kind=?, manager=?, version=?, ovn=?, state=?, "
                   "uss_base_url=?, subscription_id=?, t0=?, t1=?, extents=? WHERE id=?",
                   (*row, e.id))
            tx.drop_boxes(e.kind, e.id)
        else:
            tx.run(f"INSERT INTO dss_entities ({_E_COLS}) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                   (e.id, *row))
        tx.put_boxes(e.kind, e.id, [v.box() for v in e.volumes])

    def _delete_entity(self, tx: Tx, e: Entity) -> None:
        tx.drop_boxes(e.kind, e.id)
        tx.run("DELETE FROM dss_entities WHERE id = ?", (e.id,))

    def _put_subscription(self, tx: Tx, s: Subscription, exists: bool) -> None:
        row = (s.manager, s.version, s.notification_index, s.uss_base_url, int(s.notify_ops),
               int(s.notify_cons), int(s.implicit), s.t0, s.t1, _extents_json(s.volumes))
        if exists:
            tx.run("UPDATE dss_subscriptions SET manager=?, version=?, notification_index=?, "
                   "uss_base_url=?, notify_ops=?, notify_cons=?, implicit=?, t0=?, t1=?, "
                   "extents=? WHERE id=?", (*row, s.id))
            tx.drop_boxes("sub", s.id)
        else:
            tx.run(f"INSERT INTO dss_subscriptions ({_S_COLS}) VALUES "
                   "(?,?,?,?,?,?,?,?,?,?,?)", (s.id, *row))
        tx.put_boxes("sub", s.id, [v.box() for v in s.volumes])

    def _delete_subscription(self, tx: Tx, sid: str) -> None:
        tx.drop_boxes("sub", sid)
        tx.run("DELETE FROM dss_subscriptions WHERE id = ?", (sid,))

    def _notify(self, tx: Tx, kind: str, vols: Sequence[Volume], now: float,
                skip: Iterable[str] = ()) -> list[dict[str, Any]]:
        """Count a notification on every subscription that must hear of a change of a
        ``kind`` entity over ``vols``; the document's ``subscribers`` list."""
        skip = set(skip)
        subs = [s for s in self._search_subscriptions(tx, vols, now) if s.id not in skip
                and (s.notify_ops if kind == "op" else s.notify_cons)]
        by_url: dict[str, list[dict[str, Any]]] = {}
        index: dict[str, int] = {}
        if subs:
            # the indices as this UPDATE left them (not as read before: another instance
            # of a pool may count on the same subscription at the same time)
            marks = ",".join("?" * len(subs))
            index = {r[0]: int(r[1]) for r in tx.rows(
                "UPDATE dss_subscriptions SET notification_index = notification_index + 1 "
                f"WHERE id IN ({marks}) RETURNING id, notification_index",
                [s.id for s in subs])}
        for s in subs:
            by_url.setdefault(s.uss_base_url, []).append(
                {"subscription_id": s.id, "notification_index": index[s.id]})
        return [{"uss_base_url": url, "subscriptions": states}
                for url, states in sorted(by_url.items())]

    def _extents(self, body: dict[str, Any], now: float) -> list[Volume]:
        if "extents" not in body:
            raise InputError("extents: required")
        vols = parse_volumes(body["extents"], "extents")
        for i, v in enumerate(vols):
            assert v.t1 is not None
            if v.t1 < now:
                raise InputError(f"extents[{i}].time_end: is in the past")
            if v.t1 > now + MAX_PLAN_HORIZON_S:
                raise InputError(f"extents[{i}].time_end: more than 30 days ahead "
                                 "(OiMaxPlanHorizonDays)")
        return vols

    @staticmethod
    def _area(body: dict[str, Any]) -> Volume:
        if body.get("area_of_interest") is None:
            raise InputError("area_of_interest: required")
        return parse_volume(body["area_of_interest"], "area_of_interest")

    # ------------------------------------------------------- operational intent references

    _OP_READ = ((auth.STRATEGIC_COORDINATION,), (auth.CONFORMANCE_MONITORING_SA,))

    def query_operational_intents(self, caller: auth.Caller, body: object) -> dict[str, Any]:
        caller.require_any(self._OP_READ)
        area = self._area(_obj(body))
        now = self.clock()
        with self.db.read() as tx:
            found = self._search_entities(tx, "op", [area], now)
            avail: dict[str, str] = {}
            return {"operational_intent_references": [self._ref(tx, e, caller, avail)
                                                      for e in found]}

    def get_operational_intent(self, caller: auth.Caller, entity_id: str) -> dict[str, Any]:
        caller.require_any(self._OP_READ)
        eid = check_id(entity_id, "entityid")
        with self.db.read() as tx:
            e = self._get_entity(tx, "op", eid, self.clock())
            if e is None:
                raise NotFound(f"no operational intent reference {eid}")
            return {"operational_intent_reference": self._ref(tx, e, caller)}

    def put_operational_intent(self, caller: auth.Caller, entity_id: str, ovn: str | None,
                               body: object) -> dict[str, Any]:
        """Create (``ovn`` None) or update an operational intent reference."""
        caller.require_any(((auth.STRATEGIC_COORDINATION,),
                            (auth.CONFORMANCE_MONITORING_SA,)))
        eid = check_id(entity_id, "entityid")
        b = _obj(body)
        now = self.clock()
        state = b.get("state")
        if state not in STATES:
            raise InputError(f"state: must be one of {', '.join(STATES)}, got {state!r}")
        if state in OFF_NOMINAL:
            if not caller.has(auth.CONFORMANCE_MONITORING_SA):
                raise PermissionDenied(f"state {state} needs the scope "
                                       f"{auth.CONFORMANCE_MONITORING_SA}")
        elif not caller.has(auth.STRATEGIC_COORDINATION):
            raise PermissionDenied(f"state {state} needs the scope "
                                   f"{auth.STRATEGIC_COORDINATION}")
        vols = self._extents(b, now)
        base_url = _url(b.get("uss_base_url"), "uss_base_url")
        key = b.get("key") or []
        if not isinstance(key, list) or not all(isinstance(k, str) for k in key):
            raise InputError("key: must be a list of OVN strings")
        if len(key) > MAX_KEY:
            raise InputError(f"key: more than {MAX_KEY} OVNs")
        sub_id = b.get("subscription_id")
        if sub_id is not None:
            if not isinstance(sub_id, str):
                raise InputError("subscription_id: must be a UUIDv4 string")
            sub_id = check_id(sub_id, "subscription_id")
            if sub_id == NULL_SUBSCRIPTION:
                sub_id = None
        new_sub = b.get("new_subscription")
        implicit_url, implicit_cons = None, False
        if new_sub is not None and sub_id is None:
            ns = _obj(new_sub, "new_subscription")
            implicit_url = _url(ns.get("uss_base_url"), "new_subscription.uss_base_url")
            implicit_cons = _bool(ns, "notify_for_constraints")
            if implicit_cons and not caller.has(auth.CONSTRAINT_PROCESSING):
                raise PermissionDenied("new_subscription.notify_for_constraints needs the "
                                       f"scope {auth.CONSTRAINT_PROCESSING}")
        t0, t1 = _bounds(vols)
        with self.db.write() as tx:
            self._purge(tx, now)
            old, taken = self._claim(tx, "op", eid, now)
            if ovn is None:
                if taken:
                    raise AirspaceConflict(
                        f"an entity {eid} exists already: update it through its OVN",
                        {"message": f"an entity {eid} exists already"})
            else:
                if old is None:
                    raise NotFound(f"no operational intent reference {eid}")
                if old.manager != caller.sub:
                    raise PermissionDenied(f"operational intent {eid} is managed by "
                                           f"{old.manager}, not {caller.sub}")
                if old.ovn != ovn:
                    raise AirspaceConflict(
                        f"OVN {ovn[:128]!r} is not the current one of {eid}",
                        {"message": f"the OVN given is not the current one of {eid}"})
            before = None if old is None else old.state
            if (before, state) not in TRANSITIONS:
                raise InputError(f"state: {before or 'a new intent'} may not become {state}"
                                 + (" (a new operational intent is Accepted)"
                                    if before is None else ""))
            avail = {caller.sub: self._availability(tx, caller.sub)[0]}
            if state not in OFF_NOMINAL and avail[caller.sub] == "Down":
                raise UssDown(f"{caller.sub} is marked Down: it may not make an operational "
                              f"intent {state}")
            # the subscription this intent will depend on
            old_sub = (None if old is None or old.subscription_id is None
                       else self._get_subscription(tx, old.subscription_id, now))
            sub: Subscription | None = None
            sub_exists = False
            if sub_id is not None:
                sub = self._get_subscription(tx, sub_id, now)
                if sub is None:
                    raise InputError(f"subscription_id: no subscription {sub_id}")
                if sub.manager != caller.sub:
                    raise PermissionDenied(f"subscription {sub_id} is managed by "
                                           f"{sub.manager}, not {caller.sub}")
                if not sub.notify_ops:
                    raise InputError(f"subscription_id: {sub_id} does not notify for "
                                     "operational intents")
                sub_exists = True
            elif implicit_url is not None:
                if (old_sub is not None and old_sub.implicit
                        and set(old_sub.dependents) <= {eid}):
                    sub, sub_exists = old_sub, True
                    sub.uss_base_url, sub.notify_cons = implicit_url, implicit_cons
                else:
                    sub = Subscription(str(uuid.uuid4()), caller.sub, "", 0, implicit_url,
                                       True, implicit_cons, True, t0, t1, [])
            elif old_sub is not None:
                sub, sub_exists = old_sub, True
            elif state != "Accepted":
                raise InputError(f"an operational intent {state} needs subscription_id or "
                                 "new_subscription")
            if sub is not None:
                if sub.implicit and set(sub.dependents) <= {eid}:
                    # an implicit subscription follows its one intent's extents
                    if (not sub_exists or sub.volumes != vols or sub.t0 != t0
                            or sub.t1 != t1 or sub_id is None):
                        sub.volumes, sub.t0, sub.t1 = list(vols), t0, t1
                        sub.version = uuid.uuid4().hex
                        self._put_subscription(tx, sub, sub_exists)
                elif not (sub.t0 <= t0 and t1 <= sub.t1 and covers(sub.volumes, vols)):
                    raise InputError(f"subscription {sub.id} does not cover the extents of "
                                     "this operational intent")
            if state not in OFF_NOMINAL:
                self._check_key(tx, caller, eid, vols, set(key),
                                sub is not None and sub.notify_cons, now)
            e = Entity(eid, "op", caller.sub, 1 if old is None else old.version + 1,
                       str(uuid.uuid4()), state, base_url,
                       None if sub is None else sub.id, t0, t1, list(vols))
            self._put_entity(tx, e, old is not None)
            gone: list[str] = []
            if (old_sub is not None and (sub is None or old_sub.id != sub.id)
                    and old_sub.implicit and set(old_sub.dependents) <= {eid}):
                self._delete_subscription(tx, old_sub.id)
                gone.append(old_sub.id)
            subscribers = self._notify(tx, "op", [*(old.volumes if old else []), *vols],
                                       now, gone)
            return {"subscribers": subscribers,
                    "operational_intent_reference": self._ref(tx, e, caller, avail)}

    def _check_key(self, tx: Tx, caller: auth.Caller, eid: str, vols: Sequence[Volume],
                   key: set[str], with_constraints: bool, now: float) -> None:
        ops = [e for e in self._search_entities(tx, "op", vols, now)
               if e.id != eid and e.ovn not in key]
        cons = ([e for e in self._search_entities(tx, "cons", vols, now) if e.ovn not in key]
                if with_constraints else [])
        if ops or cons:
            avail: dict[str, str] = {}
            message = (f"the key lacks the current OVN of {len(ops)} operational "
                       f"intent(s) and {len(cons)} constraint(s) in these extents")
            body: dict[str, Any] = {
                "message": message,
                "missing_operational_intents": [self._ref(tx, e, caller, avail) for e in ops],
                "missing_constraints": [self._ref(tx, e, caller, avail) for e in cons],
            }
            raise AirspaceConflict(message, body)

    def _own_current(self, tx: Tx, kind: str, eid: str, caller: auth.Caller, ovn: str,
                     now: float) -> Entity:
        """The live entity ``eid`` of ``kind`` ("op" or "cons") that ``caller`` manages,
        at the version ``ovn`` names: 404, 403 or 409 otherwise."""
        what = "operational intent" if kind == "op" else "constraint"
        e = self._get_entity(tx, kind, eid, now)
        if e is None:
            raise NotFound(f"no {what} reference {eid}")
        if e.manager != caller.sub:
            raise PermissionDenied(f"{what} {eid} is managed by {e.manager}, "
                                   f"not {caller.sub}")
        if e.ovn != ovn:
            raise VersionConflict(f"the OVN given is not the current one of {eid}")
        return e

    def delete_operational_intent(self, caller: auth.Caller, entity_id: str, ovn: str
                                  ) -> dict[str, Any]:
        caller.require_any(self._OP_READ)
        eid = check_id(entity_id, "entityid")
        now = self.clock()
        with self.db.write() as tx:
            self._purge(tx, now)
            e = self._own_current(tx, "op", eid, caller, ovn, now)
            if self._availability(tx, caller.sub)[0] == "Down":
                raise UssDown(f"{caller.sub} is marked Down: it may not delete an "
                              "operational intent")
            ref = self._ref(tx, e, caller)
            self._delete_entity(tx, e)
            gone = []
            if e.subscription_id is not None:
                s = self._get_subscription(tx, e.subscription_id, now)
                if s is not None and s.implicit and not s.dependents:
                    self._delete_subscription(tx, s.id)
                    gone.append(s.id)
            return {"subscribers": self._notify(tx, "op", e.volumes, now, gone),
                    "operational_intent_reference": ref}

    # --------------------------------------------------------------- constraint references

    _CONS_READ = ((auth.CONSTRAINT_MANAGEMENT,), (auth.CONSTRAINT_PROCESSING,))
    _CONS_WRITE = ((auth.CONSTRAINT_MANAGEMENT,),)

    def query_constraints(self, caller: auth.Caller, body: object) -> dict[str, Any]:
        caller.require_any(self._CONS_READ)
        area = self._area(_obj(body))
        now = self.clock()
        with self.db.read() as tx:
            avail: dict[str, str] = {}
            return {"constraint_references": [
                self._ref(tx, e, caller, avail)
                for e in self._search_entities(tx, "cons", [area], now)]}

    def get_constraint(self, caller: auth.Caller, entity_id: str) -> dict[str, Any]:
        caller.require_any(self._CONS_READ)
        eid = check_id(entity_id, "entityid")
        with self.db.read() as tx:
            e = self._get_entity(tx, "cons", eid, self.clock())
            if e is None:
                raise NotFound(f"no constraint reference {eid}")
            return {"constraint_reference": self._ref(tx, e, caller)}

    def put_constraint(self, caller: auth.Caller, entity_id: str, ovn: str | None,
                       body: object) -> dict[str, Any]:
        caller.require_any(self._CONS_WRITE)
        eid = check_id(entity_id, "entityid")
        b = _obj(body)
        now = self.clock()
        vols = self._extents(b, now)
        base_url = _url(b.get("uss_base_url"), "uss_base_url")
        t0, t1 = _bounds(vols)
        with self.db.write() as tx:
            self._purge(tx, now)
            old, taken = self._claim(tx, "cons", eid, now)
            if ovn is None:
                if taken:
                    raise VersionConflict(f"an entity {eid} exists already")
            else:
                if old is None:
                    raise NotFound(f"no constraint reference {eid}")
                if old.manager != caller.sub:
                    raise PermissionDenied(f"constraint {eid} is managed by {old.manager}, "
                                           f"not {caller.sub}")
                if old.ovn != ovn:
                    raise VersionConflict(f"the OVN given is not the current one of {eid}")
            e = Entity(eid, "cons", caller.sub, 1 if old is None else old.version + 1,
                       str(uuid.uuid4()), None, base_url, None, t0, t1, list(vols))
            self._put_entity(tx, e, old is not None)
            subscribers = self._notify(tx, "cons", [*(old.volumes if old else []), *vols],
                                       now)
            return {"subscribers": subscribers, "constraint_reference": self._ref(tx, e, caller)}

    def delete_constraint(self, caller: auth.Caller, entity_id: str, ovn: str
                          ) -> dict[str, Any]:
        caller.require_any(self._CONS_WRITE)
        eid = check_id(entity_id, "entityid")
        now = self.clock()
        with self.db.write() as tx:
            self._purge(tx, now)
            e = self._own_current(tx, "cons", eid, caller, ovn, now)
            ref = self._ref(tx, e, caller)
            self._delete_entity(tx, e)
            return {"subscribers": self._notify(tx, "cons", e.volumes, now),
                    "constraint_reference": ref}

    # ---------------------------------------------------------------------- subscriptions

    _SUB_SCOPES = ((auth.CONSTRAINT_PROCESSING,), (auth.STRATEGIC_COORDINATION,))

    def query_subscriptions(self, caller: auth.Caller, body: object) -> dict[str, Any]:
        caller.require_any(self._SUB_SCOPES)
        area = self._area(_obj(body))
        now = self.clock()
        with self.db.read() as tx:
            out = []
            for s in self._search_subscriptions(tx, [area], now):
                if s.manager == caller.sub:
                    full = self._get_subscription(tx, s.id, now)
                    if full is not None:
                        out.append(self._sub_json(full))
            return {"subscriptions": out}

    def get_subscription(self, caller: auth.Caller, subscription_id: str) -> dict[str, Any]:
        caller.require_any(self._SUB_SCOPES)
        sid = check_id(subscription_id, "subscriptionid")
        with self.db.read() as tx:
            s = self._get_subscription(tx, sid, self.clock())
            if s is None:
                raise NotFound(f"no subscription {sid}")
            if s.manager != caller.sub:
                raise PermissionDenied(f"subscription {sid} is managed by {s.manager}, "
                                       f"not {caller.sub}")
            return {"subscription": self._sub_json(s)}

    def put_subscription(self, caller: auth.Caller, subscription_id: str,
                         version: str | None, body: object) -> dict[str, Any]:
        """Create (``version`` None) or update a subscription."""
        caller.require_any(self._SUB_SCOPES)
        sid = check_id(subscription_id, "subscriptionid")
        b = _obj(body)
        now = self.clock()
        if b.get("extents") is None:
            raise InputError("extents: required")
        vol = parse_volume(b["extents"], "extents")
        base_url = _url(b.get("uss_base_url"), "uss_base_url")
        notify_ops = _bool(b, "notify_for_operational_intents")
        notify_cons = _bool(b, "notify_for_constraints")
        if not (notify_ops or notify_cons):
            raise InputError("at least one of notify_for_operational_intents and "
                             "notify_for_constraints must be true")
        if notify_ops and not caller.has(auth.STRATEGIC_COORDINATION):
            raise PermissionDenied("notify_for_operational_intents needs the scope "
                                   f"{auth.STRATEGIC_COORDINATION}")
        if notify_cons and not caller.has(auth.CONSTRAINT_PROCESSING):
            raise PermissionDenied("notify_for_constraints needs the scope "
                                   f"{auth.CONSTRAINT_PROCESSING}")
        t0 = now if vol.t0 is None else vol.t0
        t1 = min(t0, now) + MAX_SUBSCRIPTION_S if vol.t1 is None else vol.t1
        if t1 < now:
            raise InputError("extents.time_end: is in the past")
        if t1 < t0:
            raise InputError("extents: time_start is after time_end")
        vol = Volume(vol.vertices, vol.center, vol.radius_m, vol.alt_lo_m, vol.alt_hi_m, t0, t1)
        with self.db.write() as tx:
            self._purge(tx, now)
            old = self._get_subscription(tx, sid, now)
            if version is None:
                if old is not None or tx.rows("SELECT 1 FROM dss_subscriptions WHERE id = ?",
                                              (sid,)):
                    raise VersionConflict(f"a subscription {sid} exists already")
            else:
                if old is None:
                    raise NotFound(f"no subscription {sid}")
                if old.manager != caller.sub:
                    raise VersionConflict(f"subscription {sid} is managed by another client")
                if old.version != version:
                    raise VersionConflict(f"version {version[:64]!r} is not the current one "
                                          f"of subscription {sid}")
            implicit = old is not None and old.implicit
            if old is None:
                (held,) = tx.rows("SELECT COUNT(*) FROM dss_subscriptions WHERE manager = ? "
                                  "AND implicit = 0 AND t1 >= ?", (caller.sub, now))[0]
                cap = self.limits.max_subscriptions_per_manager
                if int(held) >= cap:
                    raise TooMany(f"{caller.sub} holds {held} live subscriptions, the most "
                                  f"this DSS allows one client ({cap}): delete some first")
            if not implicit and t1 - t0 > MAX_SUBSCRIPTION_S:
                raise InputError("extents: a subscription may last at most 24 hours "
                                 "(DSSMaxSubscriptionDurationHours)")
            s = Subscription(sid, caller.sub, uuid.uuid4().hex,
                             0 if old is None else old.notification_index, base_url,
                             notify_ops, notify_cons, implicit, t0, t1, [vol],
                             [] if old is None else old.dependents)
            if s.dependents:
                deps = self._load_entities(tx, s.dependents)
                if not notify_ops:
                    raise InputError("operational intents depend on this subscription: it "
                                     "must notify for operational intents")
                lost = [d.id for d in deps
                        if not (t0 <= d.t0 and d.t1 <= t1 and covers([vol], d.volumes))]
                if lost:
                    raise InputError("this update would leave operational intent(s) "
                                     f"{', '.join(lost)} without subscription coverage")
            self._put_subscription(tx, s, old is not None)
            out: dict[str, Any] = {"subscription": self._sub_json(s)}
            avail: dict[str, str] = {}
            if notify_ops:
                out["operational_intent_references"] = [
                    self._ref(tx, e, caller, avail)
                    for e in self._search_entities(tx, "op", [vol], now)]
            if notify_cons:
                out["constraint_references"] = [
                    self._ref(tx, e, caller, avail)
                    for e in self._search_entities(tx, "cons", [vol], now)]
            return out

    def delete_subscription(self, caller: auth.Caller, subscription_id: str, version: str
                            ) -> dict[str, Any]:
        caller.require_any(self._SUB_SCOPES)
        sid = check_id(subscription_id, "subscriptionid")
        now = self.clock()
        with self.db.write() as tx:
            self._purge(tx, now)
            s = self._get_subscription(tx, sid, now)
            if s is None:
                raise NotFound(f"no subscription {sid}")
            if s.manager != caller.sub:
                raise VersionConflict(f"subscription {sid} is managed by another client")
            if s.version != version:
                raise VersionConflict(f"version {version[:64]!r} is not the current one of "
                                      f"subscription {sid}")
            if s.dependents:
                raise InputError(f"operational intent(s) {', '.join(s.dependents)} depend on "
                                 f"subscription {sid}: it may not be deleted")
            self._delete_subscription(tx, sid)
            return {"subscription": self._sub_json(s)}

    # --------------------------------------------------------------- reports, availability

    def make_report(self, caller: auth.Caller, body: object) -> dict[str, Any]:
        """Archive an ``ErrorReport``; answers it with its ``report_id`` (only the fields
        the document declares are kept: the others must be ignored, its info block)."""
        caller.require_any([(s,) for s in auth.SCOPES])
        b = _obj(body)
        ex = _obj(b.get("exchange"), "exchange")
        kept: dict[str, Any] = {}
        for k in ("url", "method", "recorder_role"):
            if not isinstance(ex.get(k), str):
                raise InputError(f"exchange.{k}: required, a string")
            kept[k] = ex[k]
        if ex["recorder_role"] not in ("Client", "Server"):
            raise InputError("exchange.recorder_role: must be 'Client' or 'Server'")
        if "request_source" not in ex:
            raise InputError("exchange.request_source: required")
        kept["request_source"] = ex["request_source"]
        for k in ("request_time", "response_time"):
            if ex.get(k) is not None:
                parse_time(ex[k], f"exchange.{k}")
                kept[k] = ex[k]
            elif k == "request_time":
                raise InputError("exchange.request_time: required")
        for k in ("request_body", "response_body", "problem"):
            if ex.get(k) is not None:
                if not isinstance(ex[k], str):
                    raise InputError(f"exchange.{k}: must be a string")
                kept[k] = ex[k]
        if ex.get("headers") is not None:
            if not (isinstance(ex["headers"], list)
                    and all(isinstance(h, str) for h in ex["headers"])):
                raise InputError("exchange.headers: must be a list of strings")
            kept["headers"] = ex["headers"]
        if ex.get("response_code") is not None:
            code = ex["response_code"]
            if isinstance(code, bool) or not isinstance(code, int) or not 0 <= code < 2**31:
                raise InputError("exchange.response_code: must be an int32 status code")
            kept["response_code"] = code
        report = {"report_id": str(uuid.uuid4()), "exchange": kept}
        with self.db.write() as tx:
            tx.run("INSERT INTO dss_reports (id, reporter, received, body) VALUES (?,?,?,?)",
                   (report["report_id"], caller.sub, self.clock(), json.dumps(report)))
        return report

    def reports(self) -> list[dict[str, Any]]:
        """Every archived report, oldest first (for operators; not an endpoint)."""
        with self.db.read() as tx:
            return [json.loads(r[0]) for r in
                    tx.rows("SELECT body FROM dss_reports ORDER BY received, id")]

    @staticmethod
    def _uss(uss_id: str) -> str:
        if not uss_id or len(uss_id) > 256:
            raise InputError("uss_id: must be 1 to 256 characters")
        return uss_id

    def get_availability(self, caller: auth.Caller, uss_id: str) -> dict[str, Any]:
        caller.require_any(((auth.AVAILABILITY_ARBITRATION,), (auth.STRATEGIC_COORDINATION,),
                            (auth.CONFORMANCE_MONITORING_SA,)))
        uss = self._uss(uss_id)
        with self.db.read() as tx:
            state, version = self._availability(tx, uss)
        return {"status": {"uss": uss, "availability": state}, "version": version}

    def set_availability(self, caller: auth.Caller, uss_id: str, body: object
                         ) -> dict[str, Any]:
        caller.require_any(((auth.AVAILABILITY_ARBITRATION,),))
        uss = self._uss(uss_id)
        b = _obj(body)
        old_version = b.get("old_version", "")
        if not isinstance(old_version, str):
            raise InputError("old_version: must be a string")
        state = b.get("availability")
        if state not in AVAILABILITY:
            raise InputError(f"availability: must be one of {', '.join(AVAILABILITY)}, "
                             f"got {state!r}")
        with self.db.write() as tx:
            _, version = self._availability(tx, uss)
            if version != old_version:
                raise VersionConflict(f"old_version {old_version[:64]!r} is not the current "
                                      f"version {version!r} of {uss}'s availability")
            new = uuid.uuid4().hex
            if version:
                tx.run("UPDATE dss_availability SET availability = ?, version = ? "
                       "WHERE uss = ?", (state, new, uss))
            else:
                tx.run("INSERT INTO dss_availability (uss, availability, version) "
                       "VALUES (?,?,?)", (uss, state, new))
        return {"status": {"uss": uss, "availability": state}, "version": new}
