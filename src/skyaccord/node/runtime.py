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

import contextlib
import itertools
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely

from skyaccord.airspace.crossing import Incursions, predict_incursions
from skyaccord.airspace.zones import Zone
from skyaccord.errors import AccordUndecided, InputError, NotFound, SkyaccordError
from skyaccord.geo import (
    EARTH_RADIUS_M,
    FT,
    KT,
    NM,
    WGS84_A_M,
    WGS84_E2,
    FloatArray,
    LocalPlane,
    PlaneFactors,
    picture_centre,
)
from skyaccord.ingest.states import KT_MAX, StateUpdate, check_update
from skyaccord.line.messages import Message, is_priority
from skyaccord.line.node import Node
from skyaccord.picture import PartyRules, Picture, StateBatch
from skyaccord.protocol import Accord
from skyaccord.tactical.detect import PairConflicts, detect
from skyaccord.tactical.levels import level_names
from skyaccord.tracks import Tracks

log = logging.getLogger("skyaccord.node")

__all__ = ["EPISODE_GAP_S", "NodeRuntime", "TickReport", "impossible"]

#: an episode (pair in conflict, track heading into a zone) ends after this long unseen
EPISODE_GAP_S = 60.0
#: received messages shown as alerts for this long after they arrive
LINE_ALERT_WINDOW_S = 3600.0
#: line entries in one live event
LINE_EVENT_MAX = 200
#: the node keeps the compiled grid loaded (:meth:`NodeRuntime.warm_up`), so it detects
#: with it at any size: 2.5 times faster than the numpy cells at 10,000 tracks, which
#: ``engine="auto"`` picks below 30,000 to spare a command the kernel's loading
DETECT_ENGINE = "grid"
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


Int64Array = npt.NDArray[np.int64]


def _pair_keys(c1: Int64Array, c2: Int64Array) -> Int64Array:
    """One integer per (track code, track or zone code): the tick-to-tick diff of the
    alerts compares these, not strings."""
    out: Int64Array = (c1.astype(np.int64) << 32) | c2.astype(np.int64)
    return out


def _diff(keys: Int64Array, codes: npt.NDArray[np.int8], prev_keys: Int64Array,
          prev_codes: npt.NDArray[np.int8]) -> tuple[list[int], list[int], list[int]]:
    """(new, changed level, cleared) as ascending positions: the first two in ``keys``,
    the last in ``prev_keys``. Keys are unique within each."""
    def find(want: Int64Array, among: Int64Array) -> npt.NDArray[np.intp]:
        """Position of each ``want`` in ``among``, -1 where absent."""
        if among.size == 0:
            return np.full(want.size, -1, dtype=np.intp)
        order = np.argsort(among, kind="stable")
        pos = np.minimum(np.searchsorted(among, want, sorter=order), among.size - 1)
        at = order[pos]
        return np.where(among[at] == want, at, -1)

    was = find(keys, prev_keys)
    seen = was >= 0
    new = np.flatnonzero(~seen)
    changed = np.flatnonzero(seen)
    changed = changed[prev_codes[was[changed]] != codes[changed]]
    cleared = np.flatnonzero(find(prev_keys, keys) < 0)
    return new.tolist(), changed.tolist(), cleared.tolist()


@dataclass
class _ConflictTable:
    """One tick's conflicts as arrays; keys and alerts built only for the rows asked."""

    t: float
    levels: tuple[str, ...]
    snap: Tracks
    c: PairConflicts
    i1: npt.NDArray[np.intp]
    """rows of the pairs' first aircraft (the smaller id), in the snapshot"""
    i2: npt.NDArray[np.intp]
    codes: Int64Array
    """one integer per pair (see :func:`_pair_keys`)"""

    @classmethod
    def empty(cls, t: float, levels: tuple[str, ...]) -> _ConflictTable:
        none = np.empty(0, dtype=np.intp)
        return cls(t, levels, Tracks.empty(), PairConflicts.empty(), none, none,
                   np.empty(0, dtype=np.int64))

    @classmethod
    def of(cls, snap: Tracks, c: PairConflicts, t: float, levels: tuple[str, ...],
           track_codes: Int64Array) -> _ConflictTable:
        if len(c) == 0:
            return cls.empty(t, levels)
        a, b = c.pairs[0], c.pairs[1]
        swap = snap.id[b] < snap.id[a]
        i1, i2 = np.where(swap, b, a), np.where(swap, a, b)
        return cls(t, levels, snap, c, i1, i2, _pair_keys(track_codes[i1], track_codes[i2]))

    def __len__(self) -> int:
        return len(self.i1)

    @property
    def ranks(self) -> npt.NDArray[np.int8]:
        return np.asarray(self.c.level, dtype=np.int8)

    def ours_with(self, party: str) -> tuple[list[int], list[str]]:
        """(conflicts, other parties) of the pairs of ``party`` with another party."""
        if len(self) == 0:
            return [], []
        p1, p2 = self.snap.party[self.i1], self.snap.party[self.i2]
        mine = np.flatnonzero((p1 != p2) & ((p1 == party) | (p2 == party)))
        return mine.tolist(), np.where(p1[mine] == party, p2[mine], p1[mine]).tolist()

    def key(self, k: int) -> str:
        return f"conflict:{self.snap.id[self.i1[k]]}|{self.snap.id[self.i2[k]]}"

    def alerts(self, ks: Sequence[int]) -> list[dict[str, Any]]:
        """The alerts of conflicts ``ks``."""
        if not ks:
            return []
        r = np.asarray(ks, dtype=np.intp)
        snap, c, i1, i2 = self.snap, self.c, self.i1[r], self.i2[r]
        tcpa = np.asarray(c.tcpa_s, dtype=float)[r]
        cpa1 = _ahead_v(snap.lat[i1], snap.lon[i1], snap.trk_deg[i1], snap.gs_kt[i1], tcpa)
        cpa2 = _ahead_v(snap.lat[i2], snap.lon[i2], snap.trk_deg[i2], snap.gs_kt[i2], tcpa)
        t_out = np.asarray(c.t_out_s, dtype=float)[r]
        cols = zip(snap.id[i1].tolist(), snap.id[i2].tolist(), snap.party[i1].tolist(),
                   snap.party[i2].tolist(), np.asarray(c.level)[r].tolist(),
                   np.asarray(c.t_in_s, dtype=float)[r].tolist(),
                   np.where(np.isfinite(t_out), t_out, -1.0).tolist(), tcpa.tolist(),
                   (np.asarray(c.dcpa_m)[r] / NM).tolist(),
                   (np.asarray(c.dz_m)[r] / FT).tolist(),
                   np.round(cpa1[0], 6).tolist(), np.round(cpa1[1], 6).tolist(),
                   np.round(cpa2[0], 6).tolist(), np.round(cpa2[1], 6).tolist(), strict=True)
        return [{"key": f"conflict:{id1}|{id2}", "type": "conflict", "id1": id1, "id2": id2,
                 "party1": p1, "party2": p2, "level": self.levels[rank], "rank": rank,
                 "t": self.t, "t_in_s": t_in, "t_out_s": None if t_o < 0 else t_o,
                 "tcpa_s": tc, "dcpa_nm": dcpa, "dz_ft": dz, "cpa1": [la1, lo1],
                 "cpa2": [la2, lo2]}
                for (id1, id2, p1, p2, rank, t_in, t_o, tc, dcpa, dz, la1, lo1, la2,
                     lo2) in cols]


@dataclass
class _IncursionTable:
    """One tick's incursions, one per (track, zone): the earliest of its inside
    intervals (the rows of :class:`Incursions` come sorted by track, zone, entry)."""

    t: float
    snap: Tracks
    zones: Sequence[Zone]
    inc: Incursions
    rows: npt.NDArray[np.intp]
    """the rows of ``inc`` kept"""
    codes: Int64Array

    @classmethod
    def empty(cls, t: float) -> _IncursionTable:
        return cls(t, Tracks.empty(), (), Incursions.empty(), np.empty(0, dtype=np.intp),
                   np.empty(0, dtype=np.int64))

    @classmethod
    def of(cls, snap: Tracks, zones: Sequence[Zone], inc: Incursions, t: float,
           track_codes: Int64Array) -> _IncursionTable:
        keys = _pair_keys(track_codes[inc.track], np.asarray(inc.zone, dtype=np.int64))
        _, first = np.unique(keys, return_index=True)
        rows = np.sort(first)
        return cls(t, snap, zones, inc, rows, keys[rows])

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def ranks(self) -> npt.NDArray[np.int8]:
        """1 inside now (``incursion``), 0 predicted"""
        inside: npt.NDArray[np.int8] = (np.asarray(self.inc.t_entry_s)[self.rows]
                                        == 0.0).astype(np.int8)
        return inside

    def key(self, k: int) -> str:
        j = int(self.rows[k])
        return (f"incursion:{self.snap.id[int(self.inc.track[j])]}|"
                f"{self.zones[int(self.inc.zone[j])].id}")

    def alerts(self, ks: Sequence[int]) -> list[dict[str, Any]]:
        return [self.alert_of(int(self.rows[k])) for k in ks]

    def alert_of(self, j: int) -> dict[str, Any]:
        """The alert of row ``j`` of the incursions."""
        inc, zone = self.inc, self.zones[int(self.inc.zone[j])]
        row = int(inc.track[j])
        tid, tparty = str(self.snap.id[row]), str(self.snap.party[row])
        t_entry = float(inc.t_entry_s[j])
        return {"key": f"incursion:{tid}|{zone.id}", "type": "incursion", "id": tid,
                "party": tparty, "zone": zone.id, "owner": zone.owner,
                "level": "incursion" if t_entry == 0.0 else "predicted", "t": self.t,
                "t_entry_s": t_entry, "t_exit_s": _finite(float(inc.t_exit_s[j])),
                "entry": [float(inc.entry_lat[j]), float(inc.entry_lon[j])]}


_AlertTable = _ConflictTable | _IncursionTable


class _Plane(LocalPlane):
    """The tick's plane: :class:`~skyaccord.geo.LocalPlane` (PROJ ``sterea``, WGS84)
    with its scale factor and meridian convergence in closed form, instead of PROJ's
    numerical derivatives (a fifth of the time for 10,000 tracks; equal to 1e-10,
    ``tests/node/test_tick_parts.py``).

    The oblique stereographic projection in its "double" form (IOGP Guidance Note 7-2,
    EPSG method 9809; Snyder, *Map Projections: A Working Manual*, USGS PP 1395, 1987,
    ch. 3 and 21): the ellipsoid maps conformally onto Gauss's sphere (latitude ``chi``,
    longitude ``C lambda``), which is projected stereographically. The point scale is
    the product of the two maps' scales; the convergence is that of the stereographic
    map, since the first keeps meridians as meridians.
    """

    def __post_init__(self) -> None:
        super().__post_init__()
        e2 = WGS84_E2
        phi0 = math.radians(self.lat0)
        s0 = math.sin(phi0)
        c = math.sqrt(1.0 + e2 * math.cos(phi0) ** 4 / (1.0 - e2))
        chi0 = math.asin(s0 / c)
        ratexp = 0.5 * c * math.sqrt(e2)
        k = math.tan(0.5 * chi0 + math.pi / 4) / (
            math.tan(0.5 * phi0 + math.pi / 4) ** c
            * ((1.0 - math.sqrt(e2) * s0) / (1.0 + math.sqrt(e2) * s0)) ** ratexp)
        rc = math.sqrt(1.0 - e2) / (1.0 - e2 * s0 * s0)  # the sphere's radius, in a
        for name, value in (("_c", c), ("_k", k), ("_ratexp", ratexp), ("_rc", rc),
                            ("_sin_chi0", math.sin(chi0)), ("_cos_chi0", math.cos(chi0))):
            object.__setattr__(self, name, value)

    def factors(self, lat_deg: FloatArray, lon_deg: FloatArray) -> PlaneFactors:
        c, e = self._c, math.sqrt(WGS84_E2)  # type: ignore[attr-defined]
        phi = np.radians(np.asarray(lat_deg, float))
        sin_phi = np.sin(phi)
        es = e * sin_phi
        chi = 2.0 * np.arctan(self._k * np.tan(0.5 * phi + math.pi / 4) ** c  # type: ignore[attr-defined]
                              * ((1.0 - es) / (1.0 + es)) ** self._ratexp) - math.pi / 2  # type: ignore[attr-defined]
        lam = c * np.radians(np.asarray(lon_deg, float) - self.lon0)
        sin_chi, cos_chi, cos_lam = np.sin(chi), np.cos(chi), np.cos(lam)
        s0, c0 = self._sin_chi0, self._cos_chi0  # type: ignore[attr-defined]
        gauss = self._rc * c * cos_chi * np.sqrt(1.0 - es * es) / np.cos(phi)  # type: ignore[attr-defined]
        stereo = 2.0 / (1.0 + s0 * sin_chi + c0 * cos_chi * cos_lam)
        convergence = np.arctan2(np.sin(lam) * (s0 + sin_chi),
                                 c0 * cos_chi + (1.0 + s0 * sin_chi) * cos_lam)
        return PlaneFactors(scale=gauss * stereo, convergence_rad=convergence)


#: metres of a degree of latitude, at least (the meridional radius at the equator)
_M_MIN = WGS84_A_M * (1.0 - WGS84_E2) * math.pi / 180.0


class _Reach:
    """Which tracks may meet a zone within the look-ahead, so that incursion prediction
    runs on those only (the rest cannot: same incursions, ``test_tick_parts.py``).

    A track flies at most ``gs * T`` ground metres in the look-ahead ``T``; a track is
    kept when the zone (in degrees) lies within more than that distance can span
    anywhere the tracks fly (a degree of longitude is shortest at the highest latitude),
    plus a margin for the plane's scale (within 0.1 % over the picture) and for the
    zone's edges being chords in the plane rather than in degrees. Away from the poles
    and the antimeridian only.
    """

    MARGIN_M = 10_000.0

    def __init__(self, zones: Sequence[Zone]) -> None:
        self.zones = zones
        # a copy of each outline, indexed for distance queries (GEOS prepared geometry)
        self.prepared = [shapely.from_wkb(shapely.to_wkb(z.geometry)) for z in zones]
        for g in self.prepared:
            shapely.prepare(g)
        self.bounds = np.array([z.geometry.bounds for z in zones]).reshape(-1, 4)
        self.max_abs_lat = float(np.abs(self.bounds[:, [1, 3]]).max(initial=0.0))
        self.max_abs_lon = float(np.abs(self.bounds[:, [0, 2]]).max(initial=0.0))

    def rows(self, snap: Tracks, horizon_s: float) -> npt.NDArray[np.intp] | None:
        """Rows of the tracks that may meet a zone; None: cannot tell, take all."""
        if len(snap) == 0 or not self.zones:
            return None
        reach_m = float(snap.gs_kt.max()) * KT * horizon_s * 1.01 + self.MARGIN_M
        reach_deg = reach_m / _M_MIN
        lat_top = max(float(np.abs(snap.lat).max()), self.max_abs_lat) + reach_deg
        lon_top = max(float(np.abs(snap.lon).max()), self.max_abs_lon)
        if lat_top > 80.0 or lon_top + reach_deg / math.cos(math.radians(lat_top)) > 179.0:
            return None
        r = reach_deg / math.cos(math.radians(lat_top))  # degrees, in any direction
        lat, lon = snap.lat, snap.lon
        keep = np.zeros(len(snap), dtype=bool)
        for zk, zone in enumerate(self.zones):
            x0, y0, x1, y1 = self.bounds[zk]
            near = np.flatnonzero(~keep & (snap.party != zone.owner)
                                  & (lon >= x0 - r) & (lon <= x1 + r)
                                  & (lat >= y0 - r) & (lat <= y1 + r))
            if near.size:
                keep[near] = shapely.dwithin(self.prepared[zk],
                                             shapely.points(lon[near], lat[near]), r)
        return np.flatnonzero(keep)


class NodeRuntime:
    """One party's live picture, alerts and automatic messages."""

    def __init__(self, party: str, accord: Accord, line: Node, *,
                 zones: Sequence[Zone] = (), rules: PartyRules | None = None,
                 registry: Any = None, clock: Callable[[], float] = time.time,
                 max_track_age_s: float = 60.0, episode_gap_s: float = EPISODE_GAP_S,
                 tick_s: float = 1.0,
                 zones_for: Callable[[Accord], Sequence[Zone]] | None = None) -> None:
        self.party, self.accord, self.line = party, accord, line
        self.zones = list(zones)
        self.zones_for = zones_for
        """the zones a node watches under an accord (a new version may change them)"""
        self.registry = registry
        self.clock, self.tick_s = clock, tick_s
        self.picture = Picture(max_age_s=max_track_age_s, rules=rules)
        self.lock = threading.RLock()
        self._tick_lock = threading.Lock()
        self.episode_gap_s = episode_gap_s
        self.levels = level_names(accord)
        self.notify_rank = (self.levels.index(accord.notify.level)
                            if accord.notify.level is not None else 1)
        self._tables = (_ConflictTable.empty(0.0, self.levels), _IncursionTable.empty(0.0))
        self._codes: dict[str, int] = {}
        """a number per live track id, kept from tick to tick (the alerts' keys)"""
        self._next_code = 0
        self._code_ids: list[str] = []
        self._code_array: Int64Array = np.empty(0, dtype=np.int64)
        self._reach = _Reach(self.zones)
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
        self.suspensions: list[Any] = []
        """the suspensions of the accord in force (its automatic messages stop)"""
        self.withheld = 0
        """automatic messages not sent because the accord in force is suspended"""
        self.held = 0
        """automatic messages not sent because the version in force is undecided here
        (:class:`~skyaccord.errors.AccordUndecided`): told again at a later tick. Safety
        messages (conflicts) are never held (see :attr:`expedited`): only another kind
        would be"""
        self.held_reason: str | None = None
        """why, while it lasts (None once a tick's messages go out)"""
        self.expedited = 0
        """automatic conflict messages sent in the priority lane because the version in
        force was undecided here (safety does not wait on a negotiation)"""
        self._told: list[tuple[str, ...]] = []  # the episodes this tick tells
        self._sync_accord(self.clock(), initial=True)
        line.listeners.append(self._on_line_message)
        self._seed_episodes()

    def warm_up(self) -> None:
        """Run detection once on two made-up aircraft, so that the first real tick does
        not pay for loading the compiled kernel (about 2 s)."""
        cls = self.accord.classes[0]
        pair = Tracks(np.array(["warm-a", "warm-b"]), np.array(["a", "b"]),
                      np.array([cls, cls]), np.array([35.0, 35.05]), np.array([38.0, 38.0]),
                      np.array([20000.0, 20000.0]), np.array([400.0, 400.0]),
                      np.array([0.0, 180.0]), np.array([0.0, 0.0]))
        detect(pair, self.accord, engine=DETECT_ENGINE)

    @property
    def alerts(self) -> dict[str, dict[str, Any]]:
        """The last tick's alerts by key (conflicts and incursions), built on demand."""
        with self.lock:
            if self._alerts is None:
                built: dict[str, dict[str, Any]] = {}
                for table in self._tables:
                    built.update((a["key"], a) for a in table.alerts(range(len(table))))
                self._alerts = built
            return self._alerts

    # -- the accord in force --------------------------------------------------------
    def _sync_accord(self, t: float, *, initial: bool = False) -> None:
        """Follow the line's accord: at a version's effective time switch the derived
        state (levels, notification rules, zones, parties) and record the switch in the
        log; keep the suspensions of the version in force. In memory (the line's
        :class:`~skyaccord.line.accords.AccordBook`): no database read per tick.

        ``initial``: at start, take the version the log has in force whatever file the
        node was given, and record the switches that happened while it was down."""
        book = self.line.book
        now = book.at(t)
        if initial:
            if now.sha256 != self.accord.sha256:
                self._apply_accord(now)
            history = book.history()
            for before, h in itertools.pairwise(history):
                if h["effective_at"] is not None and h["effective_at"] <= t:
                    old, new = book.accords[before["sha256"]], book.accords[h["sha256"]]
                    with contextlib.suppress(SkyaccordError):
                        self.line.record_switch(old, new, t)
        elif now is not self.accord and now.sha256 != self.accord.sha256:
            old = self.accord
            self._apply_accord(now)
            # a failed record (a full disk: health shows it) does not undo the switch,
            # which every node derives from the same signed answers
            with contextlib.suppress(SkyaccordError):
                self.line.record_switch(old, now, t)
            self._publish({"type": "accord", "event": "switch", "t": t,
                           "from": {"sha256": old.sha256, "version": old.version},
                           "accord": {"id": now.id, "version": now.version,
                                      "sha256": now.sha256, "title": now.title}})
        self.suspensions = book.suspended(self.accord.sha256) if book.suspensions else []

    def _apply_accord(self, accord: Accord) -> None:
        with self.lock:
            self.accord = accord
            self.levels = level_names(accord)
            self.notify_rank = (self.levels.index(accord.notify.level)
                                if accord.notify.level is not None else 1)
            self._parties = {p.id for p in accord.parties} - {self.party}
            if self.zones_for is not None:
                self.zones = list(self.zones_for(accord))
                self._reach = _Reach(self.zones)
            self._episodes.clear()  # told under the old version: the new one tells again

    def refresh_suspensions(self) -> None:
        """Take a suspension this node just sent into account now (not at the next
        tick)."""
        self.suspensions = self.line.book.suspended(self.accord.sha256)

    def publish_distress(self, message: Message) -> None:
        """Show a distress call this node just sent on the picture at once."""
        self._publish({"type": "distress", "received_at": None,
                       "message": message.to_dict()})

    def _on_line_message(self, message: Message, received_at: float) -> None:
        """A peer's message was logged: distress calls and the accord's messages go to
        the picture at once (not at the next tick)."""
        if message.kind == "distress":
            self._publish({"type": "distress", "received_at": received_at,
                           "message": message.to_dict()})
        elif message.kind in ("proposal", "acceptance", "suspension"):
            if message.kind == "suspension":
                self.refresh_suspensions()
            self.publish_accord(message, received_at)

    def publish_accord(self, message: Message, at: float) -> None:
        """An accord message (proposal, answer, suspension), received or made here, to the
        picture at once: every operator's accord panel reads the accord again."""
        self._publish({"type": "accord", "event": message.kind, "received_at": at,
                       "message": {k: v for k, v in message.to_dict().items()
                                   if k != "body"},
                       "sha256": message.body.get("accord_sha256")})

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
        if self.suspensions:  # the accord that governs these messages is suspended
            self.withheld += 1
            return
        ep = self._episodes.get(key)
        if ep is not None:
            ep.last_seen = t
            if rank <= ep.rank:
                return
            ep.rank = rank
        else:
            self._episodes[key] = _Episode(rank, t)
        tells.append((to, "conflict", body))
        self._told.append(key)

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
        self._sync_accord(t)
        with self.lock:
            self.picture.drop_stale(t)
            snap = self.picture.snapshot(t)
            dirty, self._dirty = self._dirty, set()
        for key in [k for k, e in self._episodes.items()
                    if e.last_seen < t - self.episode_gap_s]:
            del self._episodes[key]  # not seen for the gap: the episode is over
        tells: list[tuple[str, str, dict[str, Any]]] = []
        self._told = []
        ids = snap.id.tolist()
        codes = self._track_codes(ids)
        table = _ConflictTable.empty(t, self.levels)
        incursions = _IncursionTable.empty(t)
        # One plane for detection and incursions: the one each would centre on the
        # picture by itself, with its factors in closed form.
        plane = _Plane(*picture_centre(snap.lat, snap.lon)) if len(snap) else None
        if len(snap) > 1:
            found = detect(snap, self.accord, plane=plane, engine=DETECT_ENGINE)
            table = _ConflictTable.of(snap, found, t, self.levels, codes)
            self._tell_conflicts(table, t, tells)
        if len(snap) and self.zones:
            incursions = self._incursions(snap, t, plane, codes, tells)
        # What changed since the last tick, by key and level; the alerts themselves are
        # built for those only (all of them on demand: :attr:`alerts`).
        new: list[dict[str, Any]] = []
        changed: list[dict[str, Any]] = []
        cleared: list[str] = []
        pairs: list[tuple[_AlertTable, _AlertTable]] = [(table, self._tables[0]),
                                                        (incursions, self._tables[1])]
        for now_t, prev_t in pairs:
            n_k, c_k, gone = _diff(now_t.codes, now_t.ranks, prev_t.codes, prev_t.ranks)
            new += now_t.alerts(n_k)
            changed += now_t.alerts(c_k)
            cleared += [prev_t.key(k) for k in gone]
        live = set(ids)
        removed = sorted(self._known - live)
        rows = [k for k, i in enumerate(ids) if i in dirty]
        report = TickReport(t, len(snap), len(table), len(incursions), new, changed,
                            cleared, len(tells), 0.0, self.track_columns(snap, rows),
                            removed)
        with self.lock:
            self.snapshot = snap
            self._known = live
            self._tables = (table, incursions)
            self._alerts = None
            report.duration_s = time.perf_counter() - wall0
            self.last_tick = report
        self._publish(report.to_dict())
        # The line after the picture: the messages' fsync is not on the alerts' path. A
        # crash before this commit loses no message: the episodes are not in the log, so
        # a restart tells them again.
        if tells:
            try:
                sent = self.line.send_many(tells)
                self.held_reason = None
                # while undecided the line puts them in the priority lane, under the
                # version last known: told now, once (the episodes stand)
                self.expedited += sum(1 for m in sent if is_priority(m))
            except AccordUndecided as exc:
                # which version is in force is not known here yet (a peer's answer or
                # word is awaited) and a message is not a safety one: nothing was
                # signed; these episodes are told again at a later tick
                for key in self._told:
                    self._episodes.pop(key, None)
                self.held += len(tells)
                if self.held_reason != str(exc):
                    log.warning("automatic messages held: %s", exc)
                self.held_reason = str(exc)
        elif self.held_reason is not None and not self.line.undecided(t):
            self.held_reason = None
        self._publish_line()
        return report

    def _track_codes(self, ids: list[str]) -> Int64Array:
        """The number of each live track (new ids get new numbers; gone ids lose theirs:
        only the last tick's keys are compared)."""
        if ids == self._code_ids:  # the same tracks as at the last tick (most ticks)
            return self._code_array
        got = [self._codes.get(i, -1) for i in ids]
        if -1 in got:
            for k, c in enumerate(got):
                if c < 0:
                    got[k] = self._next_code
                    self._next_code += 1
        self._codes = dict(zip(ids, got, strict=True))
        self._code_ids, self._code_array = ids, np.asarray(got, dtype=np.int64)
        return self._code_array

    def _incursions(self, snap: Tracks, t: float, plane: LocalPlane | None,
                    codes: Int64Array, tells: list[tuple[str, str, dict[str, Any]]]
                    ) -> _IncursionTable:
        """Incursions into the zones, predicted for the tracks that may reach one; our
        zones' intruders told."""
        rows = self._reach.rows(snap, self.accord.lookahead_or(None))
        part = snap if rows is None else snap.take(rows)
        inc = predict_incursions(part, self.zones, self.accord, t_now_s=t, depth=False,
                                 plane=plane)
        if rows is not None:  # back to the snapshot's rows (the order is kept)
            inc = Incursions(rows[inc.track], inc.zone, inc.t_entry_s, inc.t_exit_s,
                             inc.depth_m, inc.entry_lat, inc.entry_lon, inc.exit_lat,
                             inc.exit_lon)
        table = _IncursionTable.of(snap, self.zones, inc, t, codes)
        if self.accord.notify.incursions:
            self._tell_incursions(table, t, tells)
        return table

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
        mine, others = table.ours_with(self.party)
        if not mine:
            return
        r = np.asarray(mine, dtype=np.intp)
        id1s = table.snap.id[table.i1[r]].tolist()
        id2s = table.snap.id[table.i2[r]].tolist()
        ranks = table.ranks[r].tolist()
        told: list[tuple[int, str]] = []
        for k, other, id1, id2, rank in zip(mine, others, id1s, id2s, ranks, strict=True):
            ep = self._episodes.get(("tactical", id1, id2))
            if ep is not None and rank <= ep.rank:
                ep.last_seen = t  # told already at this level: the episode goes on
            elif rank >= floor:
                if other in self._parties:  # else nobody to tell (e.g. "unknown")
                    told.append((k, other))
            elif ep is not None:
                ep.last_seen = t
        # Each pair's episode is its own: telling them after the loop changes nothing,
        # and their alerts are built together.
        for (_, other), alert in zip(told, table.alerts([k for k, _ in told]), strict=True):
            self._tell_conflict(alert, other, t, tells)

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

    def _tell_incursions(self, table: _IncursionTable, t: float,
                         tells: list[tuple[str, str, dict[str, Any]]]) -> None:
        """Another party's aircraft inside or heading into one of our zones: its party
        is told, every inside interval in order (once per episode and level)."""
        inc = table.inc
        ours = np.array([z.owner == self.party for z in self.zones], dtype=bool)
        if not ours.any():
            return
        mine = ours[inc.zone] & (table.snap.party[inc.track] != self.party)
        for j in np.flatnonzero(mine).tolist():
            alert = table.alert_of(j)
            t_entry = alert["t_entry_s"]
            body = {"source": "airspace", "id1": alert["id"], "id2": alert["zone"],
                    "t_in_s": t_entry, "t_out_s": alert["t_exit_s"], "level": alert["level"],
                    "text": (f"{alert['id']} {'is inside' if t_entry == 0 else 'will enter'} "
                             f"{alert['zone']} ({alert['owner']})"
                             + ("" if t_entry == 0 else f" in {t_entry:.0f} s")
                             + f" at {alert['entry'][0]:.4f}, {alert['entry'][1]:.4f}")}
            self._tell(("airspace", alert["id"], alert["zone"]), self._rank(alert["level"]),
                       alert["party"], body, t, tells)

    # -- strategic ------------------------------------------------------------------
    def tell_displaced(self, intent: Any, conflicts: Sequence[Any]) -> list[str]:
        """Tell the owners of the lower-priority intents an accepted write displaced."""
        from skyaccord.line.conflict_messages import strategic_conflict_bodies

        if self.suspensions:
            self.withheld += 1
            return []
        sent = []
        for to, body in strategic_conflict_bodies(intent, conflicts, self.clock()):
            try:
                m = self.line.send(to, "conflict", body)  # the priority lane if undecided
                sent.append(m.id)
                self.expedited += int(is_priority(m))
            except AccordUndecided as exc:  # not signed under a guess (see _tick)
                self.held += 1
                self.held_reason = str(exc)
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

