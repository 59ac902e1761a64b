"""Resolution guidance: conflict-free bands of track, speed, vertical speed and altitude.

In the DAIDALUS sense (NASA detect-and-avoid): for one aircraft (the ownship), each
candidate value of one manoeuvre dimension — track angle, ground speed, vertical speed or
altitude — is given the alert level the ownship would have against all traffic in the
picture over the look-ahead if it flew that value from now on (an instantaneous
manoeuvre; the other three dimensions keep their current values), or ``NONE`` when it
would be free of conflict. Contiguous values of one colour form a band.

A band's colour agrees with :func:`skyaccord.tactical.detect` re-run on the picture with
the ownship's column changed (that is how the tests check it): the same plane
(:func:`~skyaccord.tactical.kinematics.plane_state`), the same exact pair kernel
(:func:`~skyaccord.tactical.kinematics.interval_for_minima`) and the same level
assignment (:func:`~skyaccord.tactical.levels.assign_levels`). An altitude candidate is
flown level (vertical speed 0), as DAIDALUS's altitude bands assume a level-off.

Intruders that cannot lose separation with the ownship for any candidate (too far apart
for the fastest closure over the look-ahead, horizontally or vertically) are dropped
first; the test is conservative, so nothing is lost.

Preferred resolution per dimension: the candidate nearest the current value whose colour
is ``NONE``, with its direction (``left``/``right``, ``faster``/``slower``,
``up``/``down``); ties go right (ICAO Annex 2, 3.2.2.2: aircraft approaching head-on
both turn right), faster and up.

Kinematic track bands (:func:`kinematic_track_bands`): the ownship turns at a fixed rate
(default 3°/s, the standard rate turn) the short way to each candidate track, then flies
straight. The arc is replaced by chords between points on it at the times ``0, dt_s,
2 dt_s, ...`` and the end of the turn (default ``dt_s`` 2 s; flown in the same times; at
480 kt and 3°/s a chord strays at most 6 m from the arc); each chord and the final
straight leg get the exact interval of the pair kernel, and the level rules of
:mod:`skyaccord.tactical.levels` are applied to the earliest loss over the legs. Every
candidate turning the same way flies the same arc, so the whole chords are computed once
per side (at most 180°/rate/dt_s of them) against every intruder and shared through a
running minimum; each candidate adds only its last, shorter chord and its straight leg
(about 2 legs per candidate instead of up to 31: 5-17x faster on the benchmark). With an
unlimited turn rate they equal the instantaneous bands (tested). Speed, vertical speed
and altitude stay instantaneous.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Final, NamedTuple

import numpy as np
import numpy.typing as npt

from skyaccord.errors import InputError, TrackDataError
from skyaccord.geo import FPM, FT, KT, FloatArray, LocalPlane, picture_centre
from skyaccord.protocol import Accord
from skyaccord.tactical.detect import detect
from skyaccord.tactical.kinematics import (
    PairGeometry,
    PlaneState,
    interval_for_minima,
    plane_state,
)
from skyaccord.tactical.levels import LevelCode, assign_levels, level_names
from skyaccord.tracks import Tracks

__all__ = [
    "Advice",
    "BandDimension",
    "BandRange",
    "BandSettings",
    "Bands",
    "Resolution",
    "advise",
    "band_names",
    "bands_for",
    "colours",
    "kinematic_track_bands",
    "nearest_free",
]

IntArray = npt.NDArray[np.intp]
CodeArray = npt.NDArray[np.int8]

_CELLS = 1 << 20  # candidate x intruder cells per batch: bounds temporary memory


class BandDimension(StrEnum):
    """A manoeuvre dimension of the bands; its value is its name in every output.

    What differs between dimensions is read from one table (:data:`_DIMENSIONS`): the
    tracks column, the unit, the words of a change, the candidate range in
    :class:`BandSettings` and how a value is printed.
    """

    TRACK = "track"
    GS = "gs"
    VS = "vs"
    ALT = "alt"

    @classmethod
    def of(cls, name: str) -> BandDimension:
        """The dimension named ``name``; :class:`~skyaccord.errors.InputError` if none."""
        try:
            return cls(name)
        except ValueError:
            raise InputError(f"unknown dimension {name!r}; one of "
                             f"{', '.join(cls)}") from None

    @property
    def column(self) -> str:
        """the :class:`~skyaccord.tracks.Tracks` column holding the current value"""
        return _DIMENSIONS[self].column

    @property
    def unit(self) -> str:
        return _DIMENSIONS[self].unit

    def display(self, value: float) -> str:
        """A value as the advise table prints it (``-`` for nan)."""
        return "-" if math.isnan(value) else _DIMENSIONS[self].fmt(value)


class _Dimension(NamedTuple):
    column: str
    unit: str
    words: tuple[str, str]
    """the direction of a decrease, of an increase"""
    settings: tuple[str, str, str] | None
    """the :class:`BandSettings` fields of (min, max, step); None: the whole circle"""
    fmt: Callable[[float], str]


_DIMENSIONS: Final[dict[BandDimension, _Dimension]] = {
    BandDimension.TRACK: _Dimension("trk_deg", "deg", ("left", "right"), None,
                                    lambda v: f"{v:03.0f}"),
    BandDimension.GS: _Dimension("gs_kt", "kt", ("slower", "faster"),
                                 ("gs_min_kt", "gs_max_kt", "gs_step_kt"),
                                 lambda v: f"{v:.0f}"),
    BandDimension.VS: _Dimension("vs_fpm", "fpm", ("down", "up"),
                                 ("vs_min_fpm", "vs_max_fpm", "vs_step_fpm"),
                                 lambda v: f"{v:.0f}"),
    BandDimension.ALT: _Dimension("alt_ft", "ft", ("down", "up"),
                                  ("alt_min_ft", "alt_max_ft", "alt_step_ft"),
                                  lambda v: f"FL{v / 100:03.0f}"),
}


@dataclass(frozen=True)
class BandSettings:
    """Candidate values of each dimension (aviation units)."""

    track_step_deg: float = 1.0
    gs_min_kt: float = 150.0
    gs_max_kt: float = 700.0
    gs_step_kt: float = 5.0
    vs_min_fpm: float = -6000.0
    vs_max_fpm: float = 6000.0
    vs_step_fpm: float = 100.0
    alt_min_ft: float = 1000.0
    alt_max_ft: float = 50_000.0
    alt_step_ft: float = 1000.0
    """flight levels: FL010 to FL500 by 10"""

    def __post_init__(self) -> None:
        for name in ("track_step_deg", "gs_step_kt", "vs_step_fpm", "alt_step_ft"):
            step = getattr(self, name)
            if not (math.isfinite(step) and step >= 1e-3):
                raise InputError(f"band setting {name} must be at least 0.001, got {step!r}")
        for lo, hi in (("gs_min_kt", "gs_max_kt"), ("vs_min_fpm", "vs_max_fpm"),
                       ("alt_min_ft", "alt_max_ft")):
            if not getattr(self, lo) <= getattr(self, hi):
                raise InputError(f"band setting {lo} must not exceed {hi}")

    def values(self, dimension: str) -> FloatArray:
        fields = _DIMENSIONS[BandDimension.of(dimension)].settings
        if fields is None:
            return np.arange(0.0, 360.0, self.track_step_deg)
        lo, hi, step = (float(getattr(self, f)) for f in fields)
        count = math.floor((hi - lo) / step + 1e-9) + 1
        return np.asarray(lo + step * np.arange(count), dtype=np.float64)


def band_names(accord: Accord) -> dict[int, str]:
    """Display name of each colour code: ``NONE`` (free), ``conflict`` (a loss of
    separation later than every level's time), then the accord's level names."""
    names = level_names(accord)
    return {LevelCode.FREE: "NONE", LevelCode.NO_LEVEL: "conflict",
            **{k: names[k] for k in range(1, len(names))}}


class _Own(NamedTuple):
    x: FloatArray
    y: FloatArray
    z: FloatArray
    vx: FloatArray
    vy: FloatArray
    vz: FloatArray


def _candidate_states(tracks: Tracks, index: int, plane: LocalPlane, state: PlaneState,
                      dimension: BandDimension, values: FloatArray) -> _Own:
    """The ownship's plane state for each candidate value, as detect would compute it."""
    k = len(values)
    lat = np.full(k, tracks.lat[index])
    lon = np.full(k, tracks.lon[index])
    column = {c: np.full(k, getattr(tracks, c)[index])
              for c in ("gs_kt", "trk_deg", "vs_fpm", "alt_ft")}
    column[dimension.column] = np.asarray(values, float)
    if dimension is BandDimension.ALT:
        column["vs_fpm"] = np.zeros(k)  # an altitude candidate is flown level
    gs, trk, vs, alt = column["gs_kt"], column["trk_deg"], column["vs_fpm"], column["alt_ft"]
    factors = plane.factors(lat, lon)
    vx, vy = plane.velocity_to_plane(lat, lon, gs * KT, trk, factors)
    return _Own(np.full(k, state.x[index]), np.full(k, state.y[index]), alt * FT, vx, vy,
                vs * FPM)


def _reachable(state: PlaneState, index: int, own: _Own, radius: FloatArray,
               half_height: FloatArray, lookahead_s: float) -> IntArray:
    """Intruders that might lose separation with some candidate (a superset)."""
    others = np.flatnonzero(np.arange(len(state.x)) != index)
    cls = state.class_code[index]
    r = radius[cls, state.class_code[others]] * np.maximum(state.scale[others],
                                                           state.scale[index])
    h = half_height[cls, state.class_code[others]]
    v_own = float(np.sqrt(own.vx ** 2 + own.vy ** 2).max())
    w_own = float(np.abs(own.vz).max())
    d = np.hypot(state.x[others] - state.x[index], state.y[others] - state.y[index])
    v = np.hypot(state.vx[others], state.vy[others])
    dz_lo = state.z[others] - float(own.z.max())
    dz_hi = state.z[others] - float(own.z.min())
    dz = np.where((dz_lo <= 0) & (dz_hi >= 0), 0.0, np.minimum(np.abs(dz_lo), np.abs(dz_hi)))
    slack = 1.0 + 1e-9
    near_h = d <= (r + (v + v_own) * lookahead_s) * slack + 1e-6
    near_v = dz <= (h + (np.abs(state.vz[others]) + w_own) * lookahead_s) * slack + 1e-6
    return np.asarray(others[near_h & near_v], dtype=np.intp)


def _rel(other: FloatArray, mine: FloatArray) -> FloatArray:
    """``other[j] - mine[k]`` for every (k, j), flattened row-major."""
    return (other[None, :] - mine[:, None]).reshape(-1)


def colours(state: PlaneState, index: int, own: _Own, accord: Accord,
            lookahead_s: float) -> CodeArray:
    """Colour code of each candidate ownship state against every other track."""
    radius, half_height = accord.minima_table_m()
    k = len(own.x)
    out = np.full(k, LevelCode.FREE, dtype=np.int8)
    cand = _reachable(state, index, own, radius, half_height, lookahead_s)
    m = len(cand)
    if m == 0 or k == 0:
        return out
    ci = state.class_code[index]
    cj = state.class_code[cand]
    rad = radius[ci, cj]
    hh = half_height[ci, cj]
    scale = 0.5 * (state.scale[index] + state.scale[cand])
    step = max(1, _CELLS // m)
    for s in range(0, k, step):
        sl = slice(s, min(s + step, k))
        rows = sl.stop - sl.start
        g = PairGeometry(
            _rel(state.x[cand], own.x[sl]), _rel(state.y[cand], own.y[sl]),
            _rel(state.z[cand], own.z[sl]), _rel(state.vx[cand], own.vx[sl]),
            _rel(state.vy[cand], own.vy[sl]), _rel(state.vz[cand], own.vz[sl]),
            np.tile(scale, rows), np.tile(rad, rows), np.tile(hh, rows))
        iv = interval_for_minima(g, g.radius_m, g.half_height_m)
        hit = np.flatnonzero((iv.t_in < lookahead_s) & (iv.t_out > 0.0))
        if len(hit) == 0:
            continue
        codes = np.full(rows * m, LevelCode.FREE, dtype=np.int8)
        codes[hit] = assign_levels(PairGeometry(*(f[hit] for f in g)),
                                   np.maximum(iv.t_in[hit], 0.0), accord, lookahead_s)
        out[sl] = codes.reshape(rows, m).max(axis=1)
    return out


class BandRange(NamedTuple):
    """Contiguous candidate values of one colour (inclusive sampled ends)."""

    lo: float
    hi: float
    code: int
    name: str


class Bands(NamedTuple):
    """Colours of the sampled values of one dimension for one ownship."""

    dimension: BandDimension
    unit: str
    values: FloatArray
    codes: CodeArray
    current: float
    current_code: int

    def ranges(self, names: dict[int, str]) -> list[BandRange]:
        """Runs of equal colour, in value order."""
        if len(self.values) == 0:
            return []
        cut = np.flatnonzero(np.diff(self.codes) != 0) + 1
        starts = np.r_[0, cut]
        ends = np.r_[cut - 1, len(self.values) - 1]
        return [BandRange(float(self.values[a]), float(self.values[b]), int(self.codes[a]),
                          names[int(self.codes[a])]) for a, b in zip(starts, ends, strict=True)]


class Resolution(NamedTuple):
    """The nearest conflict-free value of one dimension."""

    dimension: BandDimension
    value: float
    """nan when no candidate is free"""
    delta: float
    """value - current (for track: the signed turn, right positive, in (-180, 180])"""
    direction: str
    """left/right, slower/faster, down/up; ``none`` when already free or nothing is"""


def nearest_free(b: Bands) -> Resolution:
    """The preferred resolution of one dimension's bands (see the module docstring)."""
    if b.current_code == LevelCode.FREE:
        return Resolution(b.dimension, b.current, 0.0, "none")
    free = np.flatnonzero(b.codes == LevelCode.FREE)
    if len(free) == 0:
        return Resolution(b.dimension, math.nan, math.nan, "none")
    delta = b.values[free] - b.current
    spec = _DIMENSIONS[b.dimension]
    if spec.settings is None:  # a circle: the signed turn
        delta = (delta + 180.0) % 360.0 - 180.0
        delta = np.where(delta == -180.0, 180.0, delta)
    # Nearest; ties to the positive side (right, faster, up).
    best = int(np.lexsort((-delta, np.abs(delta)))[0])
    d = float(delta[best])
    return Resolution(b.dimension, float(b.values[free][best]), d,
                      spec.words[1] if d > 0 else spec.words[0])


class Advice(NamedTuple):
    """Bands and preferred resolutions for one ownship."""

    id: str
    row: int
    """row of the ownship in the picture"""
    level: int
    """the ownship's current most severe conflict level code (LevelCode.FREE if none)"""
    bands: dict[str, Bands]
    resolutions: dict[str, Resolution]


def bands_for(tracks: Tracks, accord: Accord, index: int, *,
              lookahead_s: float | None = None, settings: BandSettings | None = None,
              dimensions: tuple[str, ...] = tuple(BandDimension),
              plane: LocalPlane | None = None) -> Advice:
    """Bands of the ownship ``tracks[index]`` against every other track.

    Parameters
    ----------
    tracks
        The picture, N tracks.
    accord
        Minima, alert levels and the default look-ahead.
    index
        Row of the ownship.
    lookahead_s
        Overrides ``accord.lookahead_s``.
    settings
        Candidate values (default: 1° track, 5 kt, 100 fpm, flight levels).
    dimensions
        Which of ``track``, ``gs``, ``vs``, ``alt`` to compute.
    plane
        The local plane; by default the one :func:`detect` uses (centred on the picture).

    Examples
    --------
    Two aircraft head-on, 20 NM apart, same level: straight ahead is in conflict, a
    turn of some tens of degrees is free; the preferred turn is to the right.

    >>> from skyaccord.protocol import default_accord
    >>> t = Tracks.from_rows([
    ...     ("a", "us", "manned", 35.0, 36.0, 30000, 480, 90, 0),
    ...     ("b", "ru", "manned", 35.0, 36.0 + 20 * 1852 / 91_287.8, 30000, 480, 270, 0),
    ... ])
    >>> adv = bands_for(t, default_accord(), 0, dimensions=("track", "alt"))
    >>> names = band_names(default_accord())
    >>> names[adv.bands["track"].current_code], adv.resolutions["track"].direction
    ('corrective', 'right')
    >>> adv.resolutions["alt"].value, adv.resolutions["alt"].direction
    (31000.0, 'up')
    """
    if not 0 <= index < len(tracks):
        raise TrackDataError(f"no track at row {index} (picture has {len(tracks)})")
    horizon = accord.lookahead_or(lookahead_s)
    settings = settings or BandSettings()
    if plane is None:
        plane = LocalPlane(*picture_centre(tracks.lat, tracks.lon))
    state = plane_state(tracks, accord, plane)
    bands: dict[str, Bands] = {}
    level: int = LevelCode.FREE
    for dim in map(BandDimension.of, dimensions):
        values = settings.values(dim)
        current = float(getattr(tracks, dim.column)[index])
        with_current = np.r_[current, values]
        own = _candidate_states(tracks, index, plane, state, dim, with_current)
        if dim is BandDimension.ALT:
            # The current altitude keeps the current vertical speed: it is "no change".
            own.vz[0] = state.vz[index]
        codes = colours(state, index, own, accord, horizon)
        level = int(codes[0])
        bands[dim] = Bands(dim, dim.unit, values, codes[1:], current, int(codes[0]))
    resolutions = {dim: nearest_free(b) for dim, b in bands.items()}
    return Advice(str(tracks.id[index]), index, level, bands, resolutions)


def advise(tracks: Tracks, accord: Accord, *, min_level: int = 1,
           lookahead_s: float | None = None, settings: BandSettings | None = None,
           dimensions: tuple[str, ...] = tuple(BandDimension)) -> list[Advice]:
    """Bands for every aircraft in a conflict at or above level code ``min_level``.

    Level codes are those of :func:`skyaccord.tactical.levels.level_names` (1: the
    accord's least severe level). Advice is sorted by track row.
    """
    conflicts = detect(tracks, accord, lookahead_s=lookahead_s)
    serious = conflicts.level >= min_level
    rows = np.unique(conflicts.pairs[:, serious].reshape(-1))
    return [bands_for(tracks, accord, int(i), lookahead_s=lookahead_s, settings=settings,
                      dimensions=dimensions) for i in rows]


def _earliest_loss(state: PlaneState, j: IntArray, leg: FloatArray, z: float, vz: float,
                   radius_m: FloatArray, half_height_m: FloatArray,
                   scale: FloatArray) -> FloatArray:
    """Earliest loss time of intruder ``j[c]`` against ownship leg ``leg[c]`` within the
    leg, per cell ``c``; inf if none. A leg row is (candidate, start, end, x, y, vx, vy):
    the ownship is at plane point (x, y) at time start and moves at (vx, vy)."""
    t0 = leg[:, 1]
    g = PairGeometry(
        state.x[j] + state.vx[j] * t0 - leg[:, 3], state.y[j] + state.vy[j] * t0 - leg[:, 4],
        state.z[j] + state.vz[j] * t0 - (z + vz * t0),
        state.vx[j] - leg[:, 5], state.vy[j] - leg[:, 6], state.vz[j] - vz,
        scale, radius_m, half_height_m)
    iv = interval_for_minima(g, g.radius_m, g.half_height_m)
    first = np.maximum(iv.t_in + t0, t0)
    last = np.minimum(iv.t_out + t0, leg[:, 2])
    return np.where(first < last, first, np.inf)


def kinematic_track_bands(tracks: Tracks, accord: Accord, index: int, *,
                          turn_rate_deg_s: float = 3.0, dt_s: float = 2.0,
                          lookahead_s: float | None = None,
                          settings: BandSettings | None = None,
                          plane: LocalPlane | None = None) -> Bands:
    """Track bands when the ownship turns at ``turn_rate_deg_s`` to each candidate.

    See the module docstring. Candidates behind the current track are reached by the
    shorter turn (right when exactly opposite).

    Examples
    --------
    Head-on at 20 NM: a standard-rate turn needs a wider heading change than an
    instantaneous one (29°) to pass 5 NM clear.

    >>> from skyaccord.protocol import default_accord
    >>> t = Tracks.from_rows([
    ...     ("a", "us", "manned", 35.0, 36.0, 30000, 480, 90, 0),
    ...     ("b", "ru", "manned", 35.0, 36.0 + 20 * 1852 / 91_287.8, 30000, 480, 270, 0),
    ... ])
    >>> b = kinematic_track_bands(t, default_accord(), 0)
    >>> bool(b.codes[90 + 29] != LevelCode.FREE), bool(b.codes[90 + 45] == LevelCode.FREE)
    (True, True)
    """
    if not 0 <= index < len(tracks):
        raise TrackDataError(f"no track at row {index} (picture has {len(tracks)})")
    if not (turn_rate_deg_s > 0 and dt_s > 0):
        raise InputError("turn_rate_deg_s and dt_s must be positive")
    horizon = accord.lookahead_or(lookahead_s)
    settings = settings or BandSettings()
    if plane is None:
        plane = LocalPlane(*picture_centre(tracks.lat, tracks.lon))
    state = plane_state(tracks, accord, plane)
    values = settings.values(BandDimension.TRACK)
    current = float(tracks.trk_deg[index])
    cands = np.r_[current, values]
    # Candidate plane velocities, as detect would compute them after the turn.
    own_all = _candidate_states(tracks, index, plane, state, BandDimension.TRACK, cands)
    arc = _Arc(float(state.x[index]), float(state.y[index]),
               math.atan2(state.vx[index], state.vy[index]),
               math.radians(turn_rate_deg_s),
               float(np.hypot(state.vx[index], state.vy[index])) / math.radians(turn_rate_deg_s))
    plan = _turn_plan(arc, own_all, horizon, dt_s)
    radius, half_height = accord.minima_table_m()
    cand = _reachable(state, index, own_all, radius, half_height, horizon)
    codes = np.full(len(cands), LevelCode.FREE, dtype=np.int8)
    if len(cand):
        ci, cj = state.class_code[index], state.class_code[cand]
        traffic = _Traffic(state, cand, float(state.z[index]), float(state.vz[index]),
                           0.5 * (state.scale[index] + state.scale[cand]), plan.shared)
        rad, hh = radius[ci, cj], half_height[ci, cj]
        first = _first_losses(traffic, plan, rad, hh, len(cands))
        conflict = first < horizon
        codes[conflict.any(axis=1)] = LevelCode.NO_LEVEL
        _raise_to_levels(codes, traffic, plan, first, conflict, rad, hh, accord, horizon)
    return Bands(BandDimension.TRACK, BandDimension.TRACK.unit, values, codes[1:], current,
                 int(codes[0]))


class _Arc(NamedTuple):
    """The ownship's turn in the plane: from ``(x0, y0)`` on plane bearing ``beta0``
    (clockwise from grid north), at ``omega`` rad/s on a circle of radius ``r`` m."""

    x0: float
    y0: float
    beta0: float
    omega: float
    r: float

    def at(self, t: FloatArray, sign: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Plane position after turning for ``t`` s (sign +1 right, -1 left)."""
        b = self.beta0 + sign * self.omega * t
        return (self.x0 + sign * self.r * (math.cos(self.beta0) - np.cos(b)),
                self.y0 + sign * self.r * (np.sin(b) - math.sin(self.beta0)))

    def chords(self, start: FloatArray, end: FloatArray, sign: FloatArray) -> FloatArray:
        """Chord legs (start, end, x, y, vx, vy) of the arc between two times."""
        xa, ya = self.at(start, sign)
        xb, yb = self.at(end, sign)
        span = end - start
        return np.column_stack([start, end, xa, ya, (xb - xa) / span, (yb - ya) / span])


class _TurnPlan(NamedTuple):
    """How each candidate track is flown: the first ``n_full[k]`` chords of its side
    (``shared[sign[k]]``, the same for every candidate turning that way), then its own
    legs: a last, shorter chord and the straight leg after the turn."""

    sign: FloatArray
    """+1 right, -1 left"""
    n_full: IntArray
    own_k: IntArray
    """the candidate of each own leg"""
    own_leg: FloatArray
    """(start, end, x, y, vx, vy) of each own leg"""
    shared: dict[float, FloatArray]


def _turn_plan(arc: _Arc, own: _Own, horizon: float, dt_s: float) -> _TurnPlan:
    """The legs of every candidate (``own``: plane velocities after the turn), turning
    the short way (right when exactly opposite) for at most the horizon."""
    beta = np.arctan2(own.vx, own.vy)
    turn = (beta - arc.beta0 + math.pi) % (2 * math.pi) - math.pi
    turn = np.where(np.isclose(turn, -math.pi), math.pi, turn)
    # The turn of candidate k lasts tau[k]; chords on the fixed grid [i dt, (i+1) dt] are
    # the same for every candidate turning the same way, so they are shared: candidate k
    # flies the first n_full[k] of them, then its own last (shorter) chord and its
    # straight leg.
    tau = np.minimum(np.abs(turn) / arc.omega, horizon)
    sign = np.where(turn >= 0, 1.0, -1.0)
    n_full = np.floor(tau / dt_s + 1e-9).astype(np.intp)
    partial = tau - n_full * dt_s > 1e-9 * dt_s
    straight = (tau < horizon) | ((n_full == 0) & ~partial)
    p_k, s_k = np.flatnonzero(partial), np.flatnonzero(straight)
    xe, ye = arc.at(tau[s_k], sign[s_k])
    own_leg = np.vstack([
        arc.chords(np.asarray(n_full[p_k] * dt_s, dtype=np.float64), tau[p_k], sign[p_k]),
        np.column_stack([tau[s_k], np.full(len(s_k), np.inf), xe, ye, own.vx[s_k],
                         own.vy[s_k]])])
    shared: dict[float, FloatArray] = {}
    for side in (1.0, -1.0):
        count = int(n_full[sign == side].max(initial=0))
        grid = np.asarray(np.arange(count) * dt_s, dtype=np.float64)
        shared[side] = arc.chords(grid, grid + dt_s, np.full(count, side))
    return _TurnPlan(sign, n_full, np.r_[p_k, s_k], own_leg, shared)


class _Traffic(NamedTuple):
    """The intruders ``cand`` that some candidate may meet, against the ownship's
    altitude ``z`` and vertical speed ``vz`` (kept through the turn)."""

    state: PlaneState
    cand: IntArray
    z: float
    vz: float
    scale: FloatArray
    """the pair's mean scale factor, per intruder"""
    shared: dict[float, FloatArray]

    def earliest(self, leg: FloatArray, j: IntArray, lr: FloatArray, lh: FloatArray
                 ) -> FloatArray:
        """Earliest loss per (leg[c], intruder cand[j[c]]) cell, in batches."""
        out = np.empty(len(j))
        for s0 in range(0, len(j), _CELLS):
            sl = slice(s0, s0 + _CELLS)
            out[sl] = _earliest_loss(self.state, self.cand[j[sl]],
                                     np.c_[np.zeros(len(leg[sl])), leg[sl]],
                                     self.z, self.vz, lr[sl], lh[sl], self.scale[j[sl]])
        return out

    def over_shared(self, side: float, js: IntArray, lr: FloatArray, lh: FloatArray
                    ) -> FloatArray:
        """(n + 1, len(js)): earliest loss over the first n shared chords of a side."""
        chords = self.shared[side]
        cell_leg = np.repeat(np.arange(len(chords)), len(js))
        cell_j = np.tile(np.arange(len(js)), len(chords))
        e = self.earliest(chords[cell_leg], js[cell_j], lr[cell_j], lh[cell_j])
        e = e.reshape(len(chords), len(js))
        return np.vstack([np.full((1, len(js)), np.inf), np.minimum.accumulate(e, axis=0)])


def _first_losses(traffic: _Traffic, plan: _TurnPlan, rad: FloatArray, hh: FloatArray,
                  n_cands: int) -> FloatArray:
    """(candidates, intruders): the earliest loss of the class minima over every leg."""
    m = len(traffic.cand)
    every = np.arange(m)
    first = np.full((n_cands, m), np.inf)
    for side in (1.0, -1.0):
        mine = np.flatnonzero(plan.sign == side)
        first[mine] = traffic.over_shared(side, every, rad, hh)[plan.n_full[mine]]
    cell_leg = np.repeat(np.arange(len(plan.own_leg)), m)
    cell_j = np.tile(every, len(plan.own_leg))
    t = traffic.earliest(plan.own_leg[cell_leg], cell_j, rad[cell_j], hh[cell_j])
    np.minimum.at(first, (plan.own_k[cell_leg], cell_j), t)
    return first


def _raise_to_levels(codes: CodeArray, traffic: _Traffic, plan: _TurnPlan,
                     first: FloatArray, conflict: npt.NDArray[np.bool_], rad: FloatArray,
                     hh: FloatArray, accord: Accord, horizon: float) -> None:
    """Raise ``codes`` to the alert level each candidate meets, testing only the
    conflicting (candidate, intruder) pairs: a level's tighter minima cannot be lost
    where the class minima are not."""
    k_idx, j_idx = np.nonzero(conflict)
    if not len(k_idx):
        return
    js, j_pos = np.unique(j_idx, return_inverse=True)
    # The pairs' own legs: each candidate has at most two.
    own_k = plan.own_k
    order = np.argsort(own_k, kind="stable")
    legs_of = np.bincount(own_k, minlength=len(codes))
    leg_start = np.r_[0, np.cumsum(legs_of)[:-1]]
    n_legs = legs_of[k_idx]
    cell_pair = np.repeat(np.arange(len(k_idx)), n_legs)
    offset = np.arange(len(cell_pair)) - np.repeat(np.cumsum(n_legs) - n_legs, n_legs)
    pair_leg = order[leg_start[k_idx][cell_pair] + offset]
    pair_j = j_idx[cell_pair]
    for code, level in enumerate(accord.levels, start=1):
        limit = min(level.time_s, horizon)
        if level.minima is None:
            t_level = first[k_idx, j_idx]
        else:
            lr = np.minimum(rad, level.minima.horizontal_m)
            lh = np.minimum(hh, level.minima.vertical_m)
            t_level = np.full(len(k_idx), np.inf)
            for side in (1.0, -1.0):
                here = np.flatnonzero(plan.sign[k_idx] == side)
                if len(here):
                    pre = traffic.over_shared(side, js, lr[js], lh[js])
                    t_level[here] = pre[plan.n_full[k_idx[here]], j_pos[here]]
            t_cell = traffic.earliest(plan.own_leg[pair_leg], pair_j, lr[pair_j],
                                      lh[pair_j])
            np.minimum.at(t_level, cell_pair, t_cell)
        meets = k_idx[t_level < limit]
        codes[meets] = np.maximum(codes[meets], np.int8(code))
