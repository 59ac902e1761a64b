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

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, NamedTuple

import numpy as np

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

__all__ = ["Gates", "PartyRules", "Picture", "StateUpdate", "default_rules"]


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


@dataclass
class _Meta:
    callsign: str | None = None
    squawk: str | None = None
    party: str | None = None       # from the feed, wins over rules
    aircraft_class: str | None = None
    sources: set[str] = field(default_factory=set)


_COLS: Final = ("t_seen", "t_pos", "lat", "lon", "alt_ft", "t_vel", "gs_kt", "trk_deg",
                "vs_fpm", "t_gnd")


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
        self.meta: list[_Meta] = []
        self.index: dict[str, int] = {}
        self.alias: dict[str, str] = {}
        self.merged = 0
        """reports that joined a track under another id (association by gates)"""
        self.updates = 0
        self.stale = 0
        """updates older than what the track already holds (ignored)"""
        self._n = 0
        self._a: dict[str, FloatArray] = {c: np.full(16, np.nan) for c in _COLS}

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

    def _new_row(self, tid: str) -> int:
        if self._n == len(self._a["t_seen"]):
            self._grow()
        i = self._n
        self._n += 1
        self.ids.append(tid)
        self.meta.append(_Meta())
        self.index[tid] = i
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
        m = self.meta[i]
        if u.kind == "ground":
            # on the surface: out of detection until an airborne position newer than this
            if not (u.t < a["t_gnd"][i]):
                a["t_gnd"][i] = u.t
            if not (u.t < a["t_seen"][i]):
                a["t_seen"][i] = u.t
            m.callsign = u.callsign or m.callsign
            m.squawk = u.squawk or m.squawk
            if u.source:
                m.sources.add(u.source)
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
        m.callsign = u.callsign or m.callsign
        m.squawk = u.squawk or m.squawk
        m.party = u.party or m.party
        m.aircraft_class = u.aircraft_class or m.aircraft_class
        if u.source:
            m.sources.add(u.source)

    def update_many(self, updates: Iterable[StateUpdate], *, associate: bool = True
                    ) -> None:
        for u in updates:
            self.update(u, associate=associate)

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
        parties, classes = [], []
        for i in rows.tolist():
            m = self.meta[i]
            if m.party is not None and m.aircraft_class is not None:
                parties.append(m.party)  # labelled by its feed: no rule applies
                classes.append(m.aircraft_class)
                continue
            rp, rc = self.rules.assign(self.ids[i], m.callsign, m.squawk)
            parties.append(m.party or rp)
            classes.append(m.aircraft_class or (rc if m.party is None else
                                                self.rules.default_class))
        ids = np.asarray([self.ids[i] for i in rows.tolist()], dtype=np.str_)
        return Tracks(ids, np.asarray(parties, dtype=np.str_),
                      np.asarray(classes, dtype=np.str_), np.clip(lat, -90.0, 90.0), lon,
                      alt, a["gs_kt"][rows].copy(), a["trk_deg"][rows] % 360.0,
                      a["vs_fpm"][rows].copy())

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
        kept = set(keep.tolist())
        dropped = {self.ids[i] for i in range(self._n) if i not in kept}
        self.ids = [self.ids[i] for i in keep.tolist()]
        self.meta = [self.meta[i] for i in keep.tolist()]
        self.index = {tid: k for k, tid in enumerate(self.ids)}
        self.alias = {k: v for k, v in self.alias.items() if v not in dropped}
        self._n = keep.size
        return gone

    def sources(self, track_id: str) -> frozenset[str]:
        """The feeds that reported a track."""
        return frozenset(self.meta[self.index[track_id]].sources)

    def track_ids(self) -> Sequence[str]:
        return tuple(self.ids)

