"""The node's loop: feed → picture → alerts → the line → answers on deadline.

:class:`NodeRuntime` owns the live picture and, every tick, runs tactical detection and
incursion prediction over it, keeps the results as the current alerts, tells the other
parties over the line what concerns them (from the accord's ``[notify]`` rules), and hands
every change to its listeners (the WebSocket stream). It is plain Python over the engines'
typed APIs: the HTTP app (:mod:`skyaccord.node.app`) and the simulator drive it, and the
clock is injected, so a simulated day runs this same code.

Automatic messages come in episodes: one ``conflict`` message per pair (or per track and
zone) when it first reaches the accord's notification level, and one more only when its
level rises. An episode ends when the pair has not been detected for
``episode_gap_s``. Which episodes have been told is read back from the line's own log
at start (what was sent within the gap), so a restart never repeats a message: the log
is written in the same transaction as the outbox, so it is the truth.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from skyaccord.airspace.crossing import Incursions, predict_incursions
from skyaccord.airspace.zones import Zone
from skyaccord.errors import InputError, NotFound, SkyaccordError
from skyaccord.geo import EARTH_RADIUS_M, FT, KT, NM, FloatArray
from skyaccord.ingest.states import KT_MAX, StateUpdate, check_update
from skyaccord.line.messages import Message
from skyaccord.line.node import Node
from skyaccord.picture import PartyRules, Picture, StateBatch
from skyaccord.protocol import Accord
from skyaccord.tactical.detect import detect
from skyaccord.tactical.levels import level_names
from skyaccord.tracks import Tracks

__all__ = ["EPISODE_GAP_S", "NodeRuntime", "TickReport", "impossible"]

#: an episode (pair in conflict, track heading into a zone) ends after this long unseen
EPISODE_GAP_S = 60.0
#: received messages shown as alerts for this long after they arrive
LINE_ALERT_WINDOW_S = 3600.0
#: line entries in one live event
LINE_EVENT_MAX = 200
_LINE_ALERT_KINDS = ("conflict", "distress", "request", "suspension", "proposal")


def impossible(batch: StateBatch) -> npt.NDArray[np.bool_]:
    """Rows of a batch that :func:`skyaccord.ingest.states.check_update` refuses (the
    same bounds, as arrays; a NaN in a batch is a value not reported)."""

    def bad(x: FloatArray, lo: float, hi: float) -> npt.NDArray[np.bool_]:
        return ~np.isnan(x) & ~((x >= lo) & (x <= hi))

    out: npt.NDArray[np.bool_] = (
        bad(batch.lat, -90.0, 90.0) | bad(batch.lon, -180.0, 180.0)
        | (np.isnan(batch.lat) != np.isnan(batch.lon))
        | bad(batch.gs_kt, 0.0, KT_MAX) | bad(batch.trk_deg, -360.0, 360.0)
        | bad(batch.vs_fpm, -60_000.0, 60_000.0) | bad(batch.alt_ft, -2_000.0, 200_000.0))
    return out


@dataclass
class TickReport:
    """What one tick found and changed (the WebSocket stream sends it as ``tick``)."""

    t: float
    tracks: int
    conflicts: int
    incursions: int
    new_alerts: list[dict[str, Any]]
    changed_alerts: list[dict[str, Any]]
    cleared_alerts: list[str]
    told: int
    """automatic messages queued on the line by this tick"""
    duration_s: float
    updated_tracks: dict[str, list[Any]] = field(default_factory=dict)
    removed_tracks: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"type": "tick", "t": self.t, "duration_s": self.duration_s,
                "tracks": self.tracks,
                "conflicts": self.conflicts, "incursions": self.incursions,
                "alerts": {"new": self.new_alerts, "changed": self.changed_alerts,
                           "cleared": self.cleared_alerts},
                "told": self.told, "updated": self.updated_tracks, "removed": self.removed_tracks}


@dataclass
class _Episode:
    rank: int
    last_seen: float


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def _ahead_v(lat: Any, lon: Any, trk_deg: Any, gs_kt: Any, dt_s: Any) -> tuple[Any, Any]:
    """Positions after ``dt_s`` along the initial great circle of each track, on the
    mean-radius sphere: where the map draws the closest approach (display only; the
    alerts' times and distances come from the detection kernel)."""
    d = np.asarray(gs_kt) * KT * np.asarray(dt_s) / EARTH_RADIUS_M
    p1, l1, th = np.radians(lat), np.radians(lon), np.radians(trk_deg)
    p2 = np.arcsin(np.sin(p1) * np.cos(d) + np.cos(p1) * np.sin(d) * np.cos(th))
    l2 = l1 + np.arctan2(np.sin(th) * np.sin(d) * np.cos(p1),
                         np.cos(d) - np.sin(p1) * np.sin(p2))
    return np.degrees(p2), (np.degrees(l2) + 540.0) % 360.0 - 180.0


@dataclass
class _ConflictTable:
    """One tick's conflicts as columns (plain lists), each alert built when asked."""

    t: float
    levels: tuple[str, ...]
    keys: list[str]
    cols: tuple[list[Any], ...]
    ours: Any = None
    """per conflict: the other party when the pair is ours with another party's aircraft"""

    @classmethod
    def empty(cls, t: float, levels: tuple[str, ...]) -> _ConflictTable:
        return cls(t, levels, [], tuple([] for _ in range(14)))

    @classmethod
    def of(cls, snap: Tracks, c: Any, t: float, levels: tuple[str, ...]) -> _ConflictTable:
        if len(c) == 0:
            return cls.empty(t, levels)
        a, b = c.pairs[0], c.pairs[1]
        swap = snap.id[b] < snap.id[a]
        i1, i2 = np.where(swap, b, a), np.where(swap, a, b)
        tcpa = np.asarray(c.tcpa_s, dtype=float)
        cpa1 = _ahead_v(snap.lat[i1], snap.lon[i1], snap.trk_deg[i1], snap.gs_kt[i1], tcpa)
        cpa2 = _ahead_v(snap.lat[i2], snap.lon[i2], snap.trk_deg[i2], snap.gs_kt[i2], tcpa)
        t_out = np.asarray(c.t_out_s, dtype=float)
        id1, id2 = snap.id[i1].tolist(), snap.id[i2].tolist()
        p1, p2 = snap.party[i1], snap.party[i2]
        cols = (id1, id2, p1.tolist(), p2.tolist(), c.level.tolist(),
                np.asarray(c.t_in_s, dtype=float).tolist(),
                np.where(np.isfinite(t_out), t_out, -1.0).tolist(), tcpa.tolist(),
                (np.asarray(c.dcpa_m) / NM).tolist(), (np.asarray(c.dz_m) / FT).tolist(),
                np.round(cpa1[0], 6).tolist(), np.round(cpa1[1], 6).tolist(),
                np.round(cpa2[0], 6).tolist(), np.round(cpa2[1], 6).tolist())
        keys = [f"conflict:{x}|{y}" for x, y in zip(id1, id2, strict=True)]
        return cls(t, levels, keys, cols, (p1, p2))

    def ours_with(self, party: str) -> list[tuple[int, str]]:
        """(conflict, other party) of the pairs of ``party`` with another party."""
        if self.ours is None:
            return []
        p1, p2 = self.ours
        mine = np.flatnonzero((p1 != p2) & ((p1 == party) | (p2 == party)))
        return [(k, str(p2[k] if p1[k] == party else p1[k])) for k in mine.tolist()]

    def levels_by_key(self) -> dict[str, str]:
        return dict(zip(self.keys, (self.levels[r] for r in self.cols[4]), strict=True))

    def alert(self, k: int) -> dict[str, Any]:
        (id1, id2, p1, p2, rank, t_in, t_o, tc, dcpa, dz, la1, lo1, la2,
         lo2) = (col[k] for col in self.cols)
        return {"key": self.keys[k], "type": "conflict", "id1": id1, "id2": id2,
                "party1": p1, "party2": p2, "level": self.levels[rank], "rank": rank,
                "t": self.t, "t_in_s": t_in, "t_out_s": None if t_o < 0 else t_o,
                "tcpa_s": tc, "dcpa_nm": dcpa, "dz_ft": dz, "cpa1": [la1, lo1],
                "cpa2": [la2, lo2]}


class NodeRuntime:
    """One party's live picture, alerts and automatic messages."""

    def __init__(self, party: str, accord: Accord, line: Node, *,
                 zones: Sequence[Zone] = (), rules: PartyRules | None = None,
                 registry: Any = None, clock: Callable[[], float] = time.time,
                 max_track_age_s: float = 60.0, episode_gap_s: float = EPISODE_GAP_S,
                 tick_s: float = 1.0) -> None:
        self.party, self.accord, self.line = party, accord, line
        self.zones = list(zones)
        self.registry = registry
        self.clock, self.tick_s = clock, tick_s
        self.picture = Picture(max_age_s=max_track_age_s, rules=rules)
        self.lock = threading.RLock()
        self._tick_lock = threading.Lock()
        self.episode_gap_s = episode_gap_s
        self.levels = level_names(accord)
        self.notify_rank = (self.levels.index(accord.notify.level)
                            if accord.notify.level is not None else 1)
        self._levels: dict[str, str] = {}
        self._parts: tuple[_ConflictTable, dict[str, dict[str, Any]]] = (
            _ConflictTable.empty(0.0, self.levels), {})
        self._alerts: dict[str, dict[str, Any]] | None = {}
        self.snapshot: Tracks = Tracks.empty()
        self.last_tick: TickReport | None = None
        self.listeners: list[Callable[[dict[str, Any]], None]] = []
        self.updates_in = 0
        self.refused_in = 0
        self._episodes: dict[tuple[str, ...], _Episode] = {}
        self._dirty: set[str] = set()
        self._known: set[str] = set()
        self._line_pos = 0
        self._parties = {p.id for p in accord.parties} - {party}
        self._seed_episodes()

    def warm_up(self) -> None:
        """Run detection once on two made-up aircraft, so that the first real tick does
        not pay for loading the compiled kernel (about 2 s)."""
        cls = self.accord.classes[0]
        pair = Tracks(np.array(["warm-a", "warm-b"]), np.array(["a", "b"]),
                      np.array([cls, cls]), np.array([35.0, 35.05]), np.array([38.0, 38.0]),
                      np.array([20000.0, 20000.0]), np.array([400.0, 400.0]),
                      np.array([0.0, 180.0]), np.array([0.0, 0.0]))
        detect(pair, self.accord)

    @property
    def alerts(self) -> dict[str, dict[str, Any]]:
        """The last tick's alerts by key (conflicts and incursions), built on demand."""
        with self.lock:
            if self._alerts is None:
                table, incursions = self._parts
                built = {key: table.alert(k) for k, key in enumerate(table.keys)}
                built.update(incursions)
                self._alerts = built
            return self._alerts

    # -- episodes ------------------------------------------------------------------
    def _seed_episodes(self) -> None:
        """Episodes told within the gap before now, read back from the line's log."""
        now = self.clock()
        for _pos, _d, _t, m in self.line.store.messages(direction="sent", kinds=("conflict",)):
            if m.created_at < now - self.episode_gap_s:
                continue
            key = self._episode_key_of(m)
            if key is None:
                continue
            rank = self._rank(str(m.body.get("level", "")))
            old = self._episodes.get(key)
            if old is None or old.rank < rank:
                self._episodes[key] = _Episode(rank, m.created_at)
        self._line_pos = self.line.store.last_pos()

    @staticmethod
    def _episode_key_of(m: Message) -> tuple[str, ...] | None:
        b = m.body
        if b.get("source") == "tactical":
            return ("tactical", str(b["id1"]), str(b["id2"]))
        if b.get("source") == "airspace":
            return ("airspace", str(b["id1"]), str(b["id2"]))
        return None

    def _rank(self, level: str) -> int:
        if level in self.levels:
            return self.levels.index(level)
        return {"incursion": len(self.levels) + 1, "predicted": len(self.levels)}.get(level, 0)

    def _tell(self, key: tuple[str, ...], rank: int, to: str, body: dict[str, Any],
              t: float, tells: list[tuple[str, str, dict[str, Any]]]) -> None:
        """Queue a ``conflict`` message for ``to`` unless this episode was told already
        at this level or higher."""
        if to not in self._parties:
            return  # not a party of the accord (e.g. "unknown"): nobody to tell
        ep = self._episodes.get(key)
        if ep is not None:
            ep.last_seen = t
            if rank <= ep.rank:
                return
            ep.rank = rank
        else:
            self._episodes[key] = _Episode(rank, t)
        tells.append((to, "conflict", body))

    # -- feeds ---------------------------------------------------------------------
    def ingest(self, updates: Iterable[StateUpdate], *, associate: bool = True
               ) -> tuple[int, int]:
        """Apply reports to the picture: (accepted, refused as impossible).

        ``associate`` False for already fused tracks (see :meth:`Picture.update`)."""
        ups = list(updates)
        batch = StateBatch.of(ups)
        if batch is not None:
            return self.ingest_batch(batch, associate=associate)
        ok = bad = 0  # a NaN among them (impossible): one by one
        with self.lock:
            for u in ups:
                if check_update(u) is not None:
                    bad += 1
                    continue
                self.picture.update(u, associate=associate)
                self._dirty.add(self.picture.alias.get(u.icao24, u.icao24))
                ok += 1
            self.updates_in += ok
            self.refused_in += bad
        return ok, bad

    def ingest_batch(self, batch: StateBatch, *, associate: bool = True
                     ) -> tuple[int, int]:
        """Apply a batch of reports to the picture (as :meth:`ingest`, as arrays)."""
        bad = impossible(batch)
        nbad = int(bad.sum())
        if nbad:
            batch = batch.take(~bad)
        with self.lock:
            rows = self.picture.update_batch(batch, associate=associate)
            ids = self.picture.ids
            self._dirty.update([ids[i] for i in rows.tolist()])
            self.updates_in += len(batch)
            self.refused_in += nbad
        return len(batch), nbad

    # -- the tick ------------------------------------------------------------------
    def tick(self, t: float | None = None) -> TickReport:
        """Detect, predict, alert and tell; then hand the report to the listeners.

        The picture's lock is held only to take the snapshot and to publish the result:
        reports posted meanwhile wait for neither detection nor incursion prediction.
        Only the tick's thread touches the episodes.
        """
        with self._tick_lock:  # one tick at a time (the ticker, or a test's own calls)
            return self._tick(t)

    def _tick(self, t: float | None) -> TickReport:
        wall0 = time.perf_counter()
        with self.lock:
            t = self.clock() if t is None else t
            self.picture.drop_stale(t)
            snap = self.picture.snapshot(t)
            dirty, self._dirty = self._dirty, set()
        for key in [k for k, e in self._episodes.items()
                    if e.last_seen < t - self.episode_gap_s]:
            del self._episodes[key]  # not seen for the gap: the episode is over
        tells: list[tuple[str, str, dict[str, Any]]] = []
        table = _ConflictTable.empty(t, self.levels)
        incursions: dict[str, dict[str, Any]] = {}
        if len(snap) > 1:
            table = _ConflictTable.of(snap, detect(snap, self.accord), t, self.levels)
            self._tell_conflicts(table, t, tells)
        if len(snap) and self.zones:
            inc = predict_incursions(snap, self.zones, self.accord, t_now_s=t, depth=False)
            incursions = self._incursion_alerts(snap, inc, t, tells)
        # What changed since the last tick, by key and level; the alerts themselves are
        # built for those only (all of them on demand: :attr:`alerts`).
        levels_now = table.levels_by_key()
        levels_now.update((k, a["level"]) for k, a in incursions.items())
        prev = self._levels
        index = {key: k for k, key in enumerate(table.keys)}

        def alert(key: str) -> dict[str, Any]:
            return incursions[key] if key in incursions else table.alert(index[key])

        new = [alert(k) for k in levels_now if k not in prev]
        changed = [alert(k) for k, lv in levels_now.items() if k in prev and prev[k] != lv]
        cleared = [k for k in prev if k not in levels_now]
        ids = snap.id.tolist()
        live = set(ids)
        removed = sorted(self._known - live)
        rows = [k for k, i in enumerate(ids) if i in dirty]
        report = TickReport(t, len(snap), len(table.keys), len(incursions), new, changed,
                            cleared, len(tells), 0.0, self.track_columns(snap, rows),
                            removed)
        with self.lock:
            self.snapshot = snap
            self._known = live
            self._levels = levels_now
            self._parts = (table, incursions)
            self._alerts = None
            report.duration_s = time.perf_counter() - wall0
            self.last_tick = report
        self._publish(report.to_dict())
        # The line after the picture: the messages' fsync is not on the alerts' path. A
        # crash before this commit loses no message: the episodes are not in the log, so
        # a restart tells them again.
        if tells:
            self.line.send_many(tells)
        self._publish_line()
        return report

    def track_columns(self, snap: Tracks, rows: list[int]) -> dict[str, list[Any]]:
        r = np.asarray(rows, dtype=np.intp)
        return {"id": snap.id[r].tolist(), "party": snap.party[r].tolist(),
                "class": snap.aircraft_class[r].tolist(),
                "lat": np.round(snap.lat[r], 6).tolist(),
                "lon": np.round(snap.lon[r], 6).tolist(),
                "alt_ft": np.round(snap.alt_ft[r], 1).tolist(),
                "gs_kt": np.round(snap.gs_kt[r], 1).tolist(),
                "trk_deg": np.round(snap.trk_deg[r], 1).tolist(),
                "vs_fpm": np.round(snap.vs_fpm[r], 0).tolist()}

    def _tell_conflicts(self, table: _ConflictTable, t: float,
                        tells: list[tuple[str, str, dict[str, Any]]]) -> None:
        """Our pairs with another party's aircraft: told from the notification level up,
        once per episode and level (the message is built only when it is sent)."""
        floor = max(1, self.notify_rank)
        id1s, id2s, ranks = table.cols[0], table.cols[1], table.cols[4]
        for k, other in table.ours_with(self.party):
            key = ("tactical", id1s[k], id2s[k])
            ep = self._episodes.get(key)
            if ep is not None and ranks[k] <= ep.rank:
                ep.last_seen = t  # told already at this level: the episode goes on
            elif ranks[k] >= floor:
                self._tell_conflict(table.alert(k), other, t, tells)
            elif ep is not None:
                ep.last_seen = t

    def _tell_conflict(self, alert: dict[str, Any], other: str, t: float,
                       tells: list[tuple[str, str, dict[str, Any]]]) -> None:
        key = ("tactical", alert["id1"], alert["id2"])
        rank = alert["rank"]
        body = {"source": "tactical", "id1": alert["id1"], "id2": alert["id2"],
                "t_in_s": alert["t_in_s"], "t_out_s": alert["t_out_s"],
                "tcpa_s": alert["tcpa_s"], "dcpa_nm": alert["dcpa_nm"],
                "dz_ft": alert["dz_ft"], "level": alert["level"],
                "text": (f"{alert['level']}: {alert['id1']} and {alert['id2']} lose "
                         f"separation in {alert['t_in_s']:.0f} s, closest "
                         f"{alert['dcpa_nm']:.2f} NM / {abs(alert['dz_ft']):.0f} ft at "
                         f"{alert['tcpa_s']:.0f} s")}
        self._tell(key, rank, other, body, t, tells)

    def _incursion_alerts(self, snap: Tracks, inc: Incursions, t: float,
                          tells: list[tuple[str, str, dict[str, Any]]]
                          ) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for k in range(len(inc)):
            row, zone = int(inc.track[k]), self.zones[int(inc.zone[k])]
            tid, tparty = str(snap.id[row]), str(snap.party[row])
            t_entry = float(inc.t_entry_s[k])
            level = "incursion" if t_entry == 0.0 else "predicted"
            alert: dict[str, Any] = {
                "key": f"incursion:{tid}|{zone.id}", "type": "incursion", "id": tid,
                "party": tparty, "zone": zone.id, "owner": zone.owner, "level": level,
                "t": t, "t_entry_s": t_entry, "t_exit_s": _finite(float(inc.t_exit_s[k])),
                "entry": [float(inc.entry_lat[k]), float(inc.entry_lon[k])]}
            out.setdefault(alert["key"], alert)
            if (zone.owner == self.party and tparty != self.party
                    and self.accord.notify.incursions):
                body = {"source": "airspace", "id1": tid, "id2": zone.id,
                        "t_in_s": t_entry, "t_out_s": alert["t_exit_s"], "level": level,
                        "text": (f"{tid} {'is inside' if t_entry == 0 else 'will enter'} "
                                 f"{zone.id} ({zone.owner})"
                                 + ("" if t_entry == 0 else f" in {t_entry:.0f} s")
                                 + f" at {alert['entry'][0]:.4f}, {alert['entry'][1]:.4f}")}
                self._tell(("airspace", tid, zone.id), self._rank(level), tparty, body, t,
                           tells)
        return out

    # -- strategic ------------------------------------------------------------------
    def tell_displaced(self, intent: Any, conflicts: Sequence[Any]) -> list[str]:
        """Tell the owners of the lower-priority intents an accepted write displaced."""
        from skyaccord.line.conflict_messages import strategic_conflict_bodies

        sent = []
        for to, body in strategic_conflict_bodies(intent, conflicts, self.clock()):
            try:
                sent.append(self.line.send(to, "conflict", body).id)
            except SkyaccordError:
                continue
        return sent

    # -- advisories --------------------------------------------------------------------
    def advise(self, track_id: str, *, turn_rate_deg_s: float | None = None
               ) -> tuple[Any, Tracks, int]:
        """Bands for one of this party's aircraft in the latest picture."""
        from skyaccord.tactical.bands import bands_for, kinematic_track_bands, nearest_free

        with self.lock:
            snap = self.snapshot
        rows = np.flatnonzero(snap.id == track_id)
        if rows.size == 0:
            raise NotFound(f"no live track {track_id!r}")
        row = int(rows[0])
        if str(snap.party[row]) != self.party:
            raise InputError(f"track {track_id!r} belongs to {snap.party[row]!s}, not to "
                             f"{self.party!r}: advisories are for our own aircraft")
        advice = bands_for(snap, self.accord, row)
        if turn_rate_deg_s is not None:
            kin = kinematic_track_bands(snap, self.accord, row,
                                        turn_rate_deg_s=turn_rate_deg_s)
            advice.bands["track"] = kin
            advice.resolutions["track"] = nearest_free(kin)
        return advice, snap, row

    # -- the line as alerts -------------------------------------------------------------
    def line_alerts(self, now: float | None = None) -> list[dict[str, Any]]:
        """Messages received from peers that operators must see (latest first)."""
        now = self.clock() if now is None else now
        out: list[dict[str, Any]] = []
        answered = {m.in_reply_to for _, _, _, m in
                    self.line.store.messages(direction="sent", kinds=("response",))}
        for _pos, _d, recorded, m in self.line.store.messages(
                direction="received", kinds=_LINE_ALERT_KINDS):
            if recorded < now - LINE_ALERT_WINDOW_S:
                continue
            if m.kind == "request" and m.id in answered:
                continue
            out.append({"key": f"line:{m.id}", "type": "line", "kind": m.kind,
                        "from": m.sender, "received_at": recorded, "message": m.to_dict()})
        out.sort(key=lambda a: -float(a["received_at"]))
        return out

    # -- listeners ----------------------------------------------------------------------
    def _publish(self, event: dict[str, Any]) -> None:
        for listener in list(self.listeners):
            try:
                listener(event)
            except Exception:  # a broken listener must not stop the loop
                self.listeners.remove(listener)

    def _publish_line(self) -> None:
        """Line messages and acknowledgements logged since the last tick, as one event
        (the newest :data:`LINE_EVENT_MAX`; ``more`` counts the rest)."""
        if not self.listeners:
            self._line_pos = self.line.store.last_pos()
            return
        new = self.line.store.messages(after=self._line_pos)
        if not new:
            return
        self._line_pos = new[-1][0]
        shown = new[-LINE_EVENT_MAX:]
        self._publish({"type": "line", "more": len(new) - len(shown), "entries": [
            {"pos": pos, "direction": d, "recorded_at": r, "message": m.to_dict()}
            for pos, d, r, m in shown]})

