"""Resolution bands against the plain per-pair reference (:mod:`._reference`), which
shares no code with the kernel: its own projection, velocities from geodesic steps,
textbook roots and level rules. The other band tests compare with ``detect`` re-run,
the same kernel the bands use; here every candidate value's colour, the current colour
and the preferred resolution of each dimension are worked out without it.

The reference's colour of a candidate value: the ownship's column changed to it (an
altitude flown level), each intruder with the ownship as a two-aircraft picture on the
same plane, the most severe level of the conflicts found, or free (-1) when none."""

from __future__ import annotations

import math

import numpy as np
import pyproj
import pytest

from skyaccord.geo import LocalPlane
from skyaccord.protocol import default_accord
from skyaccord.tactical.bands import BandSettings, bands_for
from skyaccord.tracks import Tracks

from ._reference import reference_detect

GEOD = pyproj.Geod(ellps="WGS84")
ACCORD = default_accord()
FREE = -1  # the bands' colour of a conflict-free value (LevelCode.FREE)
COLUMN = {"track": "trk_deg", "gs": "gs_kt", "vs": "vs_fpm", "alt": "alt_ft"}
SETTINGS = BandSettings(track_step_deg=2.5, gs_step_kt=25.0, vs_step_fpm=500.0,
                        alt_step_ft=1000.0, alt_min_ft=20000.0, alt_max_ft=34000.0)


def picture(seed: int, lat0: float, lon0: float, n: int = 12) -> Tracks:
    """``n`` aircraft within 40 km of (lat0, lon0) placed by geodesic offsets: the first
    (the ownship) at the centre at FL270 climbing 1,500 fpm, the others converging on it
    or nearby, at levels around it."""
    rng = np.random.default_rng(seed)
    az = rng.uniform(0, 360, n)
    dist = np.r_[0.0, rng.uniform(8e3, 40e3, n - 1)]
    lon, lat, back = GEOD.fwd(np.full(n, lon0), np.full(n, lat0), az, dist)
    # intruders head back towards the ownship, give or take 25 degrees
    trk = np.where(dist > 0, back + rng.uniform(-25, 25, n), rng.uniform(0, 360, n)) % 360
    alt = np.r_[27000.0, 27000.0 + rng.choice([-2000, -1000, -500, 0, 0, 500, 1000], n - 1)]
    vs = np.r_[1500.0, rng.choice([0.0, 0.0, 1000.0, -1000.0], n - 1)]
    return Tracks(np.array([f"T{i:02d}" for i in range(n)]), rng.choice(["us", "ru", "tr"], n),
                  rng.choice(["manned", "unmanned"], n, p=[0.8, 0.2]), lat, lon, alt,
                  rng.uniform(250, 500, n), trk, vs)


def reference_colour(tracks: Tracks, own: int, lat0: float, lon0: float) -> int:
    colour = FREE
    for j in range(len(tracks)):
        if j != own:
            for c in reference_detect(tracks.take([own, j]), ACCORD, lat0, lon0):
                colour = max(colour, c.level)
    return colour


def changed(tracks: Tracks, own: int, dim: str, value: float) -> Tracks:
    col = getattr(tracks, COLUMN[dim]).copy()
    col[own] = value
    out = tracks.with_columns(**{COLUMN[dim]: col})
    if dim == "alt":  # an altitude candidate is flown level
        vs = out.vs_fpm.copy()
        vs[own] = 0.0
        out = out.with_columns(vs_fpm=vs)
    return out


def expected_resolution(values: list[float], colours: list[int], current: float,
                        current_colour: int, circle: bool) -> tuple[float, float]:
    """(value, delta) of the nearest free value, ties to the positive side; the current
    value when it is free; (nan, nan) when nothing is."""
    if current_colour == FREE:
        return current, 0.0
    best: tuple[float, float] | None = None
    for v, c in zip(values, colours, strict=True):
        if c != FREE:
            continue
        d = v - current
        if circle:
            d = (d + 180.0) % 360.0 - 180.0
            d = 180.0 if d == -180.0 else d
        if best is None or (abs(d), -d) < (abs(best[1]), -best[1]):
            best = (v, d)
    return best if best is not None else (math.nan, math.nan)


# plane centres: mid-latitude, 1,500 km from the plane's centre (scale factor 1.014: the
# 5 NM radius 130 m larger in the plane), near the North Pole, on the antimeridian
CASES = {
    "mid-latitude": (3, (35.5, 37.5), (35.5, 37.5)),
    "far-from-centre": (4, (48.5, 47.0), (35.5, 37.5)),
    "north-pole": (5, (89.7, 60.0), (89.7, 60.0)),
    "antimeridian": (6, (-12.0, 179.95), (-12.0, 180.0)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_band_value_against_the_plain_reference(name: str) -> None:
    """Mutations caught (each applied by hand to a copy of bands.py, the test failed):
    the pair's map scale in ``colours`` made 1 (the radius not scaled), an altitude
    candidate keeping the ownship's climb (``column["vs_fpm"] = np.zeros(k)`` removed),
    the colour capped at the first level, the candidate's plane velocity made
    ``gs * (sin trk, cos trk)`` (no meridian convergence nor scale). None of them makes
    the bands disagree with ``detect`` re-run on most pictures near the centre."""
    seed, (clat, clon), (lat0, lon0) = CASES[name]
    tracks = picture(seed, clat, clon)
    if name == "antimeridian":
        assert (tracks.lon > 0).any() and (tracks.lon < 0).any()
    adv = bands_for(tracks, ACCORD, 0, settings=SETTINGS, plane=LocalPlane(lat0, lon0))
    assert adv.level == reference_colour(tracks, 0, lat0, lon0)
    seen: set[int] = set()
    for dim, b in adv.bands.items():
        want = [reference_colour(changed(tracks, 0, dim, float(v)), 0, lat0, lon0)
                for v in b.values]
        assert b.codes.tolist() == want, dim
        assert b.current_code == adv.level
        seen.update(want)
        value, delta = expected_resolution([float(v) for v in b.values], want, b.current,
                                           b.current_code, dim == "track")
        res = adv.resolutions[dim]
        np.testing.assert_allclose([res.value, res.delta], [value, delta], atol=1e-9,
                                   err_msg=dim)
    # free values and at least two kinds of conflict: the comparison means something
    assert FREE in seen and len(seen) >= 3, seen
