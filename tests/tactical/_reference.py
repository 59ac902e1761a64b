"""An independent detector for the tests: one pair at a time, in plain Python.

It shares no code with :mod:`skyaccord.tactical` or :class:`skyaccord.geo.LocalPlane`:
its own oblique stereographic plane (a ``pyproj.Proj`` of its own), plane velocities and
scale factors found by *flying* each aircraft a few metres along its WGS84 geodesic and
projecting the ends (no convergence or scale formula), the loss interval from the
textbook quadratic roots, the levels from the accord's rules read afresh. It models the
same thing as the kernel (straight lines in a conformal plane, radii scaled by the pair's
mean scale factor), so every field agrees to rounding; a kernel bug in any of them shows.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import pyproj

from skyaccord.protocol import Accord
from skyaccord.tracks import Tracks

GEOD = pyproj.Geod(ellps="WGS84")
FT_M = 0.3048
NM_M = 1852.0
KT_MS = NM_M / 3600.0
#: the detector's strict-boundary tolerances (kinematics module doc): 1e-6 NM and ft
TOL_NM, TOL_FT = 1e-6, 1e-6
_STEP_M = 1.0  # the geodesic step used to differentiate the projection


class RefConflict(NamedTuple):
    i: int
    j: int
    t_in_s: float
    t_out_s: float
    tcpa_s: float
    dcpa_m: float
    dz_m: float
    level: int
    same_party: bool


class _State(NamedTuple):
    x: float
    y: float
    z: float
    vx: float
    vy: float
    vz: float
    k: float


def _state(proj: pyproj.Proj, lat: float, lon: float, alt_ft: float, gs_kt: float,
           trk_deg: float, vs_fpm: float) -> _State:
    x, y = proj(lon, lat)
    # plane displacement of a geodesic step of _STEP_M ahead and behind (central difference)
    fwd = GEOD.fwd(lon, lat, trk_deg, _STEP_M)
    bwd = GEOD.fwd(lon, lat, trk_deg + 180.0, _STEP_M)
    xf, yf = proj(fwd[0], fwd[1])
    xb, yb = proj(bwd[0], bwd[1])
    dx, dy = (xf - xb) / (2 * _STEP_M), (yf - yb) / (2 * _STEP_M)
    k = math.hypot(dx, dy)  # plane metres per ground metre: the point scale factor
    speed = gs_kt * KT_MS
    return _State(x, y, alt_ft * FT_M, dx * speed, dy * speed, vs_fpm * FT_M / 60.0, k)


def _interval(px: float, py: float, pz: float, vx: float, vy: float, vz: float,
              r: float, h: float) -> tuple[float, float]:
    """Open interval of ``|p_h + v_h t| < r`` and ``|pz + vz t| < h`` (textbook roots)."""
    a = vx * vx + vy * vy
    b2 = 2.0 * (px * vx + py * vy)
    c = px * px + py * py - r * r
    if a <= 1e-12:
        h_in, h_out = (-math.inf, math.inf) if c < 0 else (math.inf, -math.inf)
    else:
        disc = b2 * b2 - 4.0 * a * c
        if disc <= 0:
            h_in, h_out = math.inf, -math.inf
        else:
            s = math.sqrt(disc)
            h_in, h_out = (-b2 - s) / (2 * a), (-b2 + s) / (2 * a)
    if abs(vz) <= 1e-9:
        v_in, v_out = (-math.inf, math.inf) if abs(pz) < h else (math.inf, -math.inf)
    else:
        t1, t2 = (-h - pz) / vz, (h - pz) / vz
        v_in, v_out = min(t1, t2), max(t1, t2)
    t_in, t_out = max(h_in, v_in), min(h_out, v_out)
    return (t_in, t_out) if t_in < t_out else (math.inf, -math.inf)


def reference_detect(tracks: Tracks, accord: Accord, lat0: float, lon0: float,
                     lookahead_s: float | None = None) -> list[RefConflict]:
    """Every conflicting pair ``i < j`` of ``tracks`` in the plane centred on
    ``(lat0, lon0)``, in ``(i, j)`` order."""
    look = accord.lookahead_s if lookahead_s is None else lookahead_s
    proj = pyproj.Proj(f"+proj=sterea +lat_0={lat0!r} +lon_0={lon0!r} +k=1 +x_0=0 +y_0=0 "
                       "+ellps=WGS84 +units=m +no_defs")
    n = len(tracks)
    st = [_state(proj, float(tracks.lat[i]), float(tracks.lon[i]), float(tracks.alt_ft[i]),
                 float(tracks.gs_kt[i]), float(tracks.trk_deg[i]), float(tracks.vs_fpm[i]))
          for i in range(n)]
    minima: dict[tuple[str, str], tuple[float, float]] = {}
    for rule in accord.separation:
        ca, cb = rule.classes
        m = (rule.minima.horizontal_m, rule.minima.vertical_m)
        minima[(ca, cb)] = minima[(cb, ca)] = m
    out = []
    for i in range(n):
        si = st[i]
        for j in range(i + 1, n):
            sj = st[j]
            r_m, h_m = minima[(str(tracks.aircraft_class[i]), str(tracks.aircraft_class[j]))]
            k = 0.5 * (si.k + sj.k)
            p = (sj.x - si.x, sj.y - si.y, sj.z - si.z)
            v = (sj.vx - si.vx, sj.vy - si.vy, sj.vz - si.vz)

            def lost(r: float, hh: float, horizon: float, p: tuple[float, float, float] = p,
                     v: tuple[float, float, float] = v,
                     k: float = k) -> tuple[bool, float, float]:
                t_in, t_out = _interval(p[0], p[1], p[2], v[0], v[1], v[2],
                                        (r - TOL_NM * NM_M) * k, hh - TOL_FT * FT_M)
                return t_in < horizon and t_out > 0.0, t_in, t_out

            hit, t_in, t_out = lost(r_m, h_m, look)
            if not hit:
                continue
            a = v[0] ** 2 + v[1] ** 2
            tcpa = -(p[0] * v[0] + p[1] * v[1]) / a if a > 1e-12 else 0.0
            tcpa = min(max(tcpa, 0.0), look)
            dcpa = math.hypot(p[0] + v[0] * tcpa, p[1] + v[1] * tcpa) / k
            level = 0
            for code in range(len(accord.levels), 0, -1):
                lv = accord.levels[code - 1]
                horizon = min(lv.time_s, look)
                if lv.minima is None:
                    meets = max(t_in, 0.0) < horizon
                else:
                    meets = lost(min(r_m, lv.minima.horizontal_m),
                                 min(h_m, lv.minima.vertical_m), horizon)[0]
                if meets:
                    level = code
                    break
            out.append(RefConflict(i, j, max(t_in, 0.0), t_out, tcpa, dcpa,
                                   abs(p[2] + v[2] * tcpa), level,
                                   bool(tracks.party[i] == tracks.party[j])))
    return out
