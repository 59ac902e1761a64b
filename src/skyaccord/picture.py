"""The live picture: latest state per track, merged across sensors, as ``Tracks`` snapshots.

:class:`Picture` keeps one row per aircraft in numpy struct-of-arrays (SI-free aviation
units, as :class:`~skyaccord.tracks.Tracks`): the last position and its time, the last
velocity and its time, callsign, squawk, party and class. :meth:`Picture.update` takes
:class:`StateUpdate` s (defined here, yielded by every feed reader of
:mod:`skyaccord.ingest`, which imports this module and not the other way round);
:meth:`Picture.snapshot` extrapolates every live track along its track and vertical speed
to one common time and returns the :class:`~skyaccord.tracks.Tracks` that
:func:`skyaccord.tactical.detect` takes.

Merging: reports of one aircraft from two parties' sensors become one track when they
carry the same ICAO address; reports under another id (a radar track number) join an
existing track when they fall inside the position/altitude/velocity gates of
:class:`Gates` at the report's time, and keep joining it under that id afterwards.

Party and class: from the feed where it says them (tracks CSV), else from
:class:`PartyRules` — callsign prefixes, then squawk codes, then ICAO address blocks.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, NamedTuple

import numpy as np
import numpy.typing as npt

from skyaccord.errors import FeedError
from skyaccord.geo import (
    EARTH_RADIUS_M,
    KT,
    NM,
    WGS84_A_M,
    WGS84_E2,
    FloatArray,
    great_circle_m,
)
from skyaccord.tracks import Tracks

__all__ = ["Gates", "PartyRules", "Picture", "StateBatch", "StateUpdate", "default_rules"]


class StateUpdate(NamedTuple):
    """One report about one aircraft at time ``t`` (UTC seconds).

    ``icao24`` is the track key: the 24-bit ICAO address in lower-case hex for Mode S
    feeds, or the feed's own track id. ``kind`` says what the report carried:
    ``"position"``, ``"velocity"``, ``"state"`` (both), ``"identity"`` (callsign or
    squawk), ``"altitude"`` or ``"ground"`` (the feed says the aircraft is on the
    surface: the picture leaves it out of detection until a newer airborne position).
    ``source`` names the feed or sensor (a party's radar);
    ``party`` and ``aircraft_class`` are set where the feed says them.
    """

    t: float
    icao24: str
    kind: str = "state"
    callsign: str | None = None
    lat: float | None = None
    lon: float | None = None
    alt_ft: float | None = None
    gs_kt: float | None = None
    trk_deg: float | None = None
    vs_fpm: float | None = None
    squawk: str | None = None
    party: str | None = None
    aircraft_class: str | None = None
    source: str = ""

    @property
    def has_position(self) -> bool:
        return self.lat is not None and self.lon is not None

    @property
    def has_velocity(self) -> bool:
        return self.gs_kt is not None and self.trk_deg is not None


_Labels = Sequence[str | None] | None


@dataclass(frozen=True, slots=True)
class StateBatch:
    """Reports as columns: row ``k`` is one :class:`StateUpdate`, in arrival order.

    Numbers are float arrays of shape (n,) where NaN means the report did not carry the
    value (``None`` in a :class:`StateUpdate`); ``ground`` marks on-surface reports
    (``kind == "ground"``; every other kind is applied alike). The text columns are
    sequences of n values or None when no report carries them; ``source`` is one name
    for every row or one per row. :meth:`Picture.update_batch` applies a batch as if
    each row went through :meth:`Picture.update` in order.
    """

    t: FloatArray
    icao24: Sequence[str]
    lat: FloatArray
    lon: FloatArray
    alt_ft: FloatArray
    gs_kt: FloatArray
    trk_deg: FloatArray
    vs_fpm: FloatArray
    callsign: _Labels = None
    squawk: _Labels = None
    party: _Labels = None
    aircraft_class: _Labels = None
    ground: npt.NDArray[np.bool_] | None = None
    source: str | Sequence[str] = ""

    def __len__(self) -> int:
        return len(self.icao24)

    @classmethod
    def of(cls, updates: Sequence[StateUpdate]) -> StateBatch | None:
        """The updates as one batch; None when a number it carries is NaN (which a
        batch cannot tell from an absent one) or a time is not a number."""
        n = len(updates)
        nums = []
        for name in ("t", "lat", "lon", "alt_ft", "gs_kt", "trk_deg", "vs_fpm"):
            col = [getattr(u, name) for u in updates]
            arr = np.array(col, dtype=np.float64) if n else np.empty(0)
            if int(np.isnan(arr).sum()) != col.count(None):
                return None
            nums.append(arr)
        sources = [u.source for u in updates]

        def texts(name: str) -> _Labels:
            col = [getattr(u, name) for u in updates]
            return None if col.count(None) == n else col

        t, lat, lon, alt, gs, trk, vs = nums
        return cls(t, [u.icao24 for u in updates], lat, lon, alt, gs, trk, vs,
                   texts("callsign"), texts("squawk"), texts("party"),
                   texts("aircraft_class"),
                   np.array([u.kind == "ground" for u in updates], dtype=bool),
                   sources[0] if n and sources.count(sources[0]) == n else sources)

    def take(self, keep: npt.NDArray[np.bool_]) -> StateBatch:
        """The rows where ``keep`` is true, in their order."""
        ks = np.flatnonzero(keep).tolist()

        def pick(col: Sequence[Any] | None) -> Any:
            return None if col is None else [col[k] for k in ks]

        return StateBatch(self.t[keep], pick(self.icao24), self.lat[keep], self.lon[keep],
                          self.alt_ft[keep], self.gs_kt[keep], self.trk_deg[keep],
                          self.vs_fpm[keep], pick(self.callsign), pick(self.squawk),
                          pick(self.party), pick(self.aircraft_class),
                          None if self.ground is None else self.ground[keep],
                          self.source if isinstance(self.source, str) else pick(self.source))

    def row(self, k: int) -> StateUpdate:
        """Row ``k`` as a :class:`StateUpdate`."""
        def num(col: FloatArray) -> float | None:
            v = float(col[k])
            return None if math.isnan(v) else v

        def text(col: _Labels) -> str | None:
            return None if col is None else col[k]

        ground = self.ground is not None and bool(self.ground[k])
        return StateUpdate(float(self.t[k]), self.icao24[k], "ground" if ground else "state",
                           text(self.callsign), num(self.lat), num(self.lon),
                           num(self.alt_ft), num(self.gs_kt), num(self.trk_deg),
                           num(self.vs_fpm), text(self.squawk), text(self.party),
                           text(self.aircraft_class),
                           self.source if isinstance(self.source, str) else self.source[k])


def _cummax_by_group(groups: npt.NDArray[np.intp], values: FloatArray) -> FloatArray:
    """Running maximum of ``values`` (in their order) within each group.

    >>> _cummax_by_group(np.array([1, 0, 1, 0]), np.array([5.0, 2.0, 3.0, 4.0])).tolist()
    [5.0, 2.0, 5.0, 4.0]
    """
    order = np.argsort(groups, kind="stable")
    g, v = groups[order], values[order]
    # Exact, on integers: each value's rank, shifted by its group's rank above every rank
    # of the groups before it, so one running maximum restarts at each group.
    uniq, rank = np.unique(v, return_inverse=True)
    dense = np.concatenate(([0], np.cumsum(g[1:] != g[:-1])))
    key = dense.astype(np.int64) * len(uniq) + rank.reshape(-1)
    out = np.empty_like(values)
    out[order] = uniq[np.maximum.accumulate(key) - dense * len(uniq)]
    return out


def _last_per_row(rows: npt.NDArray[np.intp], mask: npt.NDArray[np.bool_],
                  repeats: bool = True) -> npt.NDArray[np.intp]:
    """Batch positions of the last masked report of each picture row (``repeats``
    False: no row has two reports)."""
    if not repeats:
        return np.flatnonzero(mask)
    ks = np.flatnonzero(mask)[::-1]
    _, first = np.unique(rows[ks], return_index=True)
    return ks[first]



@dataclass(frozen=True)
class PartyRules:
    """Rules giving a party and class to a track its feed does not label.

    ``callsign_prefixes``: ``(prefix, party, class)``; ``squawks``: ``(code, party,
    class)``; ``icao_blocks``: ``(first, last, party, class)`` address ranges (inclusive,
    integers). The first matching rule in that order wins; ``class`` may be None (then
    ``default_class``).
    """

    icao_blocks: tuple[tuple[int, int, str, str | None], ...] = ()
    callsign_prefixes: tuple[tuple[str, str, str | None], ...] = ()
    squawks: tuple[tuple[str, str, str | None], ...] = ()
    default_party: str = "unknown"
    default_class: str = "civil"

    def assign(self, icao24: str, callsign: str | None,
               squawk: str | None) -> tuple[str, str]:
        """``(party, class)`` of a track.

        >>> r = default_rules()
        >>> r.assign("ae1234", None, None), r.assign("151234", None, None)
        (('us', 'manned'), ('ru', 'civil'))
        >>> r.assign("4b8e01", "RFF7001", None)
        ('ru', 'manned')
        """
        if callsign:
            for prefix, party, cls in self.callsign_prefixes:
                if callsign.startswith(prefix):
                    return party, cls or self.default_class
        if squawk:
            for code, party, cls in self.squawks:
                if squawk == code:
                    return party, cls or self.default_class
        try:
            address = int(icao24, 16)
        except ValueError:
            address = -1
        for lo, hi, party, cls in self.icao_blocks:
            if lo <= address <= hi:
                return party, cls or self.default_class
        return self.default_party, self.default_class

    @classmethod
    def from_dict(cls, tree: Mapping[str, Any], source: str = "<rules>") -> PartyRules:
        """Rules from a TOML-like mapping::

            default_party = "unknown"
            default_class = "civil"
            [[icao_blocks]]  first = "ae0000"  last = "afffff"  party = "us"  class = "manned"
            [[callsigns]]    prefix = "RFF"  party = "ru"  class = "manned"
            [[squawks]]      code = "7400"  party = "us"  class = "unmanned"
        """
        def rows(key: str) -> list[Mapping[str, Any]]:
            value = tree.get(key, [])
            if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
                raise FeedError(f"{source}: {key}: must be a list of tables")
            return value

        try:
            blocks = tuple((int(str(b["first"]), 16), int(str(b["last"]), 16),
                            str(b["party"]), b.get("class")) for b in rows("icao_blocks"))
            prefixes = tuple((str(c["prefix"]), str(c["party"]), c.get("class"))
                             for c in rows("callsigns"))
            squawks = tuple((str(s["code"]), str(s["party"]), s.get("class"))
                            for s in rows("squawks"))
        except KeyError as exc:
            raise FeedError(f"{source}: a rule lacks the key {exc}") from None
        except ValueError as exc:
            raise FeedError(f"{source}: bad ICAO address: {exc}") from None
        return cls(blocks, prefixes, squawks,
                   str(tree.get("default_party", "unknown")),
                   str(tree.get("default_class", "civil")))


def default_rules() -> PartyRules:
    """State address blocks of the accord's parties (ICAO Annex 10 Vol III, Part I,
    Ch. 9, Table 9-1: United States A00000-AFFFFF, Russian Federation 100000-1FFFFF,
    Türkiye 4B8000-4BFFFF). AE0000-AFFFFF is where US military aircraft are seen
    (community listings, unconfirmed): class ``manned``. ``RFF`` is the callsign prefix
    of Russian Air Force transport flights (community listings, unconfirmed)."""
    return PartyRules(
        icao_blocks=((0xAE0000, 0xAFFFFF, "us", "manned"), (0xA00000, 0xADFFFF, "us", None),
                     (0x100000, 0x1FFFFF, "ru", None), (0x4B8000, 0x4BFFFF, "tr", None)),
        callsign_prefixes=(("RFF", "ru", "manned"),),
    )


@dataclass(frozen=True)
class Gates:
    """Association gates for reports under a new id: distance, altitude, speed, track."""

    distance_nm: float = 1.0
    altitude_ft: float = 500.0
    speed_kt: float = 60.0
    track_deg: float = 30.0


_COLS: Final = ("t_seen", "t_pos", "lat", "lon", "alt_ft", "t_vel", "gs_kt", "trk_deg",
                "vs_fpm", "t_gnd")
#: per row (object columns): the id; what the feeds said (the last non-empty value of
#: each: callsign, squawk, party and class, which win over the rules); the party and
#: class the snapshot gives the track, None when they must be worked out again
_TEXTS: Final = ("id", "callsign", "squawk", "said_party", "said_class", "party", "class")
#: a batch's text columns and the row column each one sets (from airborne reports only?)
_SAID: Final = (("callsign", "callsign", False), ("squawk", "squawk", False),
                ("party", "said_party", True), ("aircraft_class", "said_class", True))


class Picture:
    """Latest state per track, with age; snapshots extrapolated to a common time.

    Parameters
    ----------
    max_age_s
        Tracks not heard for longer are left out of snapshots and removed by
        :meth:`drop_stale`.
    rules
        Party and class of tracks whose feed does not say them.
    gates
        Association gates for reports under ids the picture does not know; None turns
        association off (only identical ids merge).

    Examples
    --------
    >>> from skyaccord.ingest import StateUpdate
    >>> p = Picture(max_age_s=30.0)
    >>> p.update(StateUpdate(0.0, "ae0001", "state", lat=35.0, lon=36.0, alt_ft=20000.0,
    ...                      gs_kt=360.0, trk_deg=90.0, vs_fpm=0.0))
    >>> snap = p.snapshot(10.0)
    >>> snap.id.tolist(), snap.party.tolist(), round(float(snap.lon[0]) - 36.0, 4)
    (['ae0001'], ['us'], 0.0203)
    >>> len(p.snapshot(41.0))
    0
    """

    def __init__(self, max_age_s: float = 60.0, rules: PartyRules | None = None,
                 gates: Gates | None = Gates()) -> None:
        if not (max_age_s > 0.0):
            raise FeedError(f"max_age_s must be > 0, got {max_age_s}")
        self.max_age_s = max_age_s
        self.rules = rules if rules is not None else default_rules()
        self.gates = gates
        self.ids: list[str] = []
        self._sources: list[set[str]] = []
        self.index: dict[str, int] = {}
        self.alias: dict[str, str] = {}
        self.merged = 0
        """reports that joined a track under another id (association by gates)"""
        self.updates = 0
        self.stale = 0
        """updates older than what the track already holds (ignored)"""
        self._n = 0
        self._a: dict[str, FloatArray] = {c: np.full(16, np.nan) for c in _COLS}
        # Text as object columns (see _TEXTS), so that a batch compares and sets them as
        # arrays and a snapshot of unchanged tracks applies no rule and builds no list.
        self._o: dict[str, npt.NDArray[np.object_]] = {
            c: np.full(16, None, dtype=object) for c in _TEXTS}
        self._labels_by: PartyRules = self.rules

    def __len__(self) -> int:
        return self._n

    def column(self, name: str) -> FloatArray:
        """A view of one state column (``t_seen``, ``t_pos``, ``lat``, ...)."""
        return self._a[name][: self._n]

    def _grow(self) -> None:
        for c, arr in self._a.items():
            bigger = np.full(2 * len(arr), np.nan)
            bigger[: len(arr)] = arr
            self._a[c] = bigger
        for c, obj in self._o.items():
            more = np.full(2 * len(obj), None, dtype=object)
            more[: len(obj)] = obj
            self._o[c] = more

    def _new_row(self, tid: str) -> int:
        if self._n == len(self._a["t_seen"]):
            self._grow()
        i = self._n
        self._n += 1
        self.ids.append(tid)
        self._sources.append(set())
        self.index[tid] = i
        self._o["id"][i] = tid
        return i

    def _associate(self, u: StateUpdate) -> int | None:
        g = self.gates
        if g is None or u.kind == "ground" or not (u.has_position and u.has_velocity) \
                or self._n == 0:
            return None
        assert u.lat is not None and u.lon is not None
        lat, lon = self._extrapolated(u.t, np.arange(self._n))
        ok = np.isfinite(lat) & np.isfinite(self.column("gs_kt"))
        d = great_circle_m(lat, lon, u.lat, u.lon)
        ok &= d < g.distance_nm * NM
        if u.alt_ft is not None:
            ok &= np.abs(self.column("alt_ft") - u.alt_ft) < g.altitude_ft
        assert u.gs_kt is not None and u.trk_deg is not None
        ok &= np.abs(self.column("gs_kt") - u.gs_kt) < g.speed_kt
        dtrk = np.abs((self.column("trk_deg") - u.trk_deg + 180.0) % 360.0 - 180.0)
        ok &= dtrk < g.track_deg
        ok &= (u.t - self.column("t_seen")) <= self.max_age_s
        if not ok.any():
            return None
        cand = np.flatnonzero(ok)
        return int(cand[np.argmin(d[cand])])

    def update(self, u: StateUpdate, *, associate: bool = True) -> None:
        """Apply one report (older parts than the track holds are ignored).

        ``associate`` False keys the report by its id alone: for sources whose tracks are
        already fused (a tracks file, the node's ``POST /tracks``), which also spares a
        new track the gate search over every track (O(N) each).
        """
        self.updates += 1
        tid = self.alias.get(u.icao24, u.icao24)
        i = self.index.get(tid)
        if i is None:
            j = self._associate(u) if associate else None
            if j is not None:
                self.alias[u.icao24] = self.ids[j]
                self.merged += 1
                i = j
            else:
                i = self._new_row(tid)
        a = self._a
        if u.kind == "ground":
            # on the surface: out of detection until an airborne position newer than this
            if not (u.t < a["t_gnd"][i]):
                a["t_gnd"][i] = u.t
            if not (u.t < a["t_seen"][i]):
                a["t_seen"][i] = u.t
            self._said(i, u.callsign, u.squawk, None, None, u.source)
            return
        fresh = False
        if u.has_position and not (u.t < a["t_pos"][i]):
            a["t_pos"][i], a["lat"][i], a["lon"][i] = u.t, u.lat, u.lon
            fresh = True
        if u.alt_ft is not None and (fresh or not (u.t < a["t_pos"][i])):
            a["alt_ft"][i] = u.alt_ft  # altitude replies newer than the position count too
            fresh = True
        if u.has_velocity and not (u.t < a["t_vel"][i]):
            a["t_vel"][i], a["gs_kt"][i], a["trk_deg"][i] = u.t, u.gs_kt, u.trk_deg
            a["vs_fpm"][i] = 0.0 if u.vs_fpm is None else u.vs_fpm
            fresh = True
        if not fresh and (u.has_position or u.has_velocity):
            self.stale += 1
        if not (u.t < a["t_seen"][i]):
            a["t_seen"][i] = u.t
        self._said(i, u.callsign, u.squawk, u.party, u.aircraft_class, u.source)

    def _said(self, i: int, callsign: str | None, squawk: str | None, party: str | None,
              cls: str | None, source: str) -> None:
        """What one report says of row ``i`` (an empty or missing value says nothing)."""
        o = self._o
        for col, v in (("callsign", callsign), ("squawk", squawk), ("said_party", party),
                       ("said_class", cls)):
            if v:
                o[col][i] = v
        if source:
            self._sources[i].add(source)
        o["party"][i] = None  # the snapshot works the labels out again

    def update_many(self, updates: Iterable[StateUpdate], *, associate: bool = True
                    ) -> None:
        """Apply reports in order, as :meth:`update` one after the other (as one
        :class:`StateBatch` where the reports make one)."""
        ups = list(updates)
        batch = StateBatch.of(ups)
        if batch is None:
            for u in ups:
                self.update(u, associate=associate)
        else:
            self.update_batch(batch, associate=associate)

    def update_batch(self, batch: StateBatch, *, associate: bool = True
                     ) -> npt.NDArray[np.intp]:
        """Apply a batch of reports exactly as :meth:`update` would, row after row; the
        picture row of each report.

        Column by column instead of report by report: each report's parts (position
        with altitude, velocity) are applied when its time is not older than the
        newest the track holds at that point of the batch (a running maximum within
        the batch), and each column takes the last report that applied. Reports under
        an id the picture does not know that could join another track by the gates
        (``associate``, with position and velocity) go through :meth:`update` at their
        place in the order, the reports between them as columns.
        """
        n = len(batch)
        rows = np.empty(n, dtype=np.intp)
        gnd = np.zeros(n, dtype=bool) if batch.ground is None else np.asarray(batch.ground)
        may_join = None
        if associate and self.gates is not None:
            may_join = (~gnd & ~np.isnan(batch.lat) & ~np.isnan(batch.lon)
                        & ~np.isnan(batch.gs_kt) & ~np.isnan(batch.trk_deg)).tolist()
        index, alias = self.index, self.alias
        keys = batch.icao24 if not alias else [alias.get(k, k) for k in batch.icao24]
        known = [index.get(k, -1) for k in keys]
        if -1 not in known:  # tracks the picture holds: no row to make, none to join
            rows[:] = known
            self._apply(batch, rows, gnd, 0, n)
            return rows
        start = 0
        for k, key in enumerate(batch.icao24):
            tid = alias.get(key, key)
            i = index.get(tid)
            if i is None:
                if may_join is not None and may_join[k] and self._n > 0:
                    self._apply(batch, rows, gnd, start, k)  # the reports before it
                    self.update(batch.row(k), associate=True)
                    i = index[alias.get(key, key)]
                    start = k + 1
                else:
                    i = self._new_row(tid)
            rows[k] = i
        self._apply(batch, rows, gnd, start, n)
        return rows

    def _apply(self, b: StateBatch, rows: npt.NDArray[np.intp], gnd: npt.NDArray[np.bool_],
               lo: int, hi: int) -> None:
        """Reports ``lo:hi`` of a batch whose rows exist (see :meth:`update_batch`)."""
        if hi <= lo:
            return
        self.updates += hi - lo
        r, t, g = rows[lo:hi], b.t[lo:hi], gnd[lo:hi]
        lat, lon, gs, trk = b.lat[lo:hi], b.lon[lo:hi], b.gs_kt[lo:hi], b.trk_deg[lo:hi]
        has_pos = ~g & ~np.isnan(lat) & ~np.isnan(lon)
        has_alt = ~g & ~np.isnan(b.alt_ft[lo:hi])
        has_vel = ~g & ~np.isnan(gs) & ~np.isnan(trk)
        repeats = np.unique(r).size < r.size
        a = self._a

        def newest(col: str, has: npt.NDArray[np.bool_]) -> FloatArray:
            """The track's newest time of ``col`` once each report is applied."""
            held = np.nan_to_num(a[col][r], nan=-np.inf)
            mine = np.where(has, t, -np.inf)
            if repeats:
                mine = _cummax_by_group(r, mine)
            return np.maximum(held, mine)

        t_pos = newest("t_pos", has_pos)
        pos_up = has_pos & (t >= t_pos)
        alt_up = has_alt & (t >= t_pos)  # altitude replies newer than the position count
        vel_up = has_vel & (t >= newest("t_vel", has_vel))
        self.stale += int(((has_pos | has_vel) & ~(pos_up | alt_up | vel_up)).sum())
        k = _last_per_row(r, pos_up, repeats)
        a["t_pos"][r[k]], a["lat"][r[k]], a["lon"][r[k]] = t[k], lat[k], lon[k]
        k = _last_per_row(r, alt_up, repeats)
        a["alt_ft"][r[k]] = b.alt_ft[lo:hi][k]
        k = _last_per_row(r, vel_up, repeats)
        a["t_vel"][r[k]], a["gs_kt"][r[k]], a["trk_deg"][r[k]] = t[k], gs[k], trk[k]
        a["vs_fpm"][r[k]] = np.nan_to_num(b.vs_fpm[lo:hi][k], nan=0.0)
        np.fmax.at(a["t_seen"], r, t)  # fmax: a track's first time replaces its NaN
        if g.any():
            np.fmax.at(a["t_gnd"], r[g], t[g])
        self._apply_meta(b, r, g, lo, hi, repeats)

    def _apply_meta(self, b: StateBatch, r: npt.NDArray[np.intp],
                    g: npt.NDArray[np.bool_], lo: int, hi: int, repeats: bool) -> None:
        """Callsign, squawk, party, class: the last report that says one (not empty)
        wins, on-ground reports saying no party or class; sources add up."""
        o = self._o
        for name, col, airborne in _SAID:
            values = getattr(b, name)
            if values is None:
                continue
            said = np.asarray(values[lo:hi], dtype=object)
            says = said.astype(bool)  # a string's truth: not None, not empty
            if airborne:
                says &= ~g
            k = _last_per_row(r, says, repeats)
            new = np.not_equal(o[col][r[k]], said[k])
            if new.any():
                o[col][r[k][new]] = said[k][new]
                o["party"][r[k][new]] = None  # the snapshot works the labels out again
        srcs = self._sources
        if isinstance(b.source, str):
            if b.source:
                for i in (set(r.tolist()) if repeats else r.tolist()):
                    srcs[i].add(b.source)
        else:
            for i, src in zip(r.tolist(), b.source[lo:hi], strict=True):
                if src:
                    srcs[i].add(src)

    def ages(self, t: float) -> FloatArray:
        """Seconds since each track was last heard, at time ``t``."""
        return t - self.column("t_seen")

    def _extrapolated(self, t: float, rows: Any) -> tuple[FloatArray, FloatArray]:
        dt = t - self._a["t_pos"][rows]
        v = self._a["gs_kt"][rows] * KT
        trk = np.radians(self._a["trk_deg"][rows])
        lat0 = self._a["lat"][rows]
        dn, de = v * np.cos(trk) * dt, v * np.sin(trk) * dt
        # WGS84 meridional and prime-vertical radii of curvature at the mid latitude
        # (a flat step on the ellipsoid: second-order error only, unlike one sphere)
        mid = np.radians(lat0 + np.degrees(dn / EARTH_RADIUS_M) / 2.0)
        w2 = 1.0 - WGS84_E2 * np.sin(mid) ** 2
        m_r = WGS84_A_M * (1.0 - WGS84_E2) / w2**1.5
        n_r = WGS84_A_M / np.sqrt(w2)
        lat = lat0 + np.degrees(dn / m_r)
        lon = self._a["lon"][rows] + np.degrees(de / (n_r * np.cos(mid)))
        lon = (lon + 180.0) % 360.0 - 180.0
        return lat, lon

    def live(self, t: float) -> np.ndarray[Any, np.dtype[np.intp]]:
        """Rows complete enough for detection (position, altitude, velocity), heard
        within ``max_age_s`` of ``t``, and airborne (no on-ground report at or after the
        last position)."""
        a = {c: self.column(c) for c in _COLS}
        ok = np.isfinite(a["t_pos"]) & np.isfinite(a["alt_ft"]) & np.isfinite(a["t_vel"])
        ok &= ~(a["t_gnd"] >= a["t_pos"])
        ok &= (t - a["t_seen"]) <= self.max_age_s
        ok &= (t - a["t_pos"]) <= self.max_age_s
        return np.flatnonzero(ok)

    def snapshot(self, t: float) -> Tracks:
        """Live tracks extrapolated (straight line, constant vertical speed) to ``t``.

        The horizontal step keeps the track angle constant on the WGS84 radii of
        curvature at the mid latitude; over a distance ``d`` it departs from the geodesic
        by about ``d^2 tan(lat) / 2R`` (10 m for 8.7 km at 60 deg), far below the minima.
        """
        rows = self.live(t)
        if rows.size == 0:
            return Tracks.empty()
        lat, lon = self._extrapolated(t, rows)
        a = self._a
        alt = a["alt_ft"][rows] + a["vs_fpm"][rows] / 60.0 * (t - a["t_pos"][rows])
        self._label(rows)
        o = self._o
        return Tracks(o["id"][rows].astype(np.str_), o["party"][rows].astype(np.str_),
                      o["class"][rows].astype(np.str_), np.clip(lat, -90.0, 90.0), lon,
                      alt, a["gs_kt"][rows].copy(), a["trk_deg"][rows] % 360.0,
                      a["vs_fpm"][rows].copy())

    def _label(self, rows: npt.NDArray[np.intp]) -> None:
        """Work out the party and class of the rows that were told something new."""
        if self._labels_by is not self.rules:  # other rules: every label again
            self._o["party"][: self._n] = None
            self._labels_by = self.rules
        o = self._o
        party, cls = o["party"], o["class"]
        todo = [i for i, v in zip(rows.tolist(), party[rows].tolist(), strict=True)
                if v is None]
        for i in todo:
            said_party, said_class = o["said_party"][i], o["said_class"][i]
            if said_party is not None and said_class is not None:
                party[i], cls[i] = said_party, said_class  # labelled by its feed
                continue
            rp, rc = self.rules.assign(self.ids[i], o["callsign"][i], o["squawk"][i])
            party[i] = said_party or rp
            cls[i] = said_class or (rc if said_party is None else self.rules.default_class)

    def drop_stale(self, t: float) -> int:
        """Remove tracks not heard within ``max_age_s`` of ``t``; how many went."""
        keep = np.flatnonzero(self.ages(t) <= self.max_age_s)
        gone = self._n - keep.size
        if gone == 0:
            return 0
        for c in _COLS:
            arr = np.full(max(16, len(self._a[c])), np.nan)
            arr[: keep.size] = self._a[c][keep]
            self._a[c] = arr
        for c in _TEXTS:
            obj = np.full(max(16, len(self._o[c])), None, dtype=object)
            obj[: keep.size] = self._o[c][keep]
            self._o[c] = obj
        kept = set(keep.tolist())
        dropped = {self.ids[i] for i in range(self._n) if i not in kept}
        self.ids = [self.ids[i] for i in keep.tolist()]
        self._sources = [self._sources[i] for i in keep.tolist()]
        self.index = {tid: k for k, tid in enumerate(self.ids)}
        self.alias = {k: v for k, v in self.alias.items() if v not in dropped}
        self._n = keep.size
        return gone

    def sources(self, track_id: str) -> frozenset[str]:
        """The feeds that reported a track."""
        return frozenset(self._sources[self.index[track_id]])

    def said(self, track_id: str) -> dict[str, str | None]:
        """What the feeds said of a track: its last callsign, squawk, party and class
        (None: never said; the party and class of a snapshot also apply the rules)."""
        i = self.index[track_id]
        return {"callsign": self._o["callsign"][i], "squawk": self._o["squawk"][i],
                "party": self._o["said_party"][i], "aircraft_class": self._o["said_class"][i]}

    def track_ids(self) -> Sequence[str]:
        return tuple(self.ids)

