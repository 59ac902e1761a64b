"""Tracks in the local plane (SI) and the exact loss-of-separation interval of pairs.

Pure functions of arrays: no I/O, no clocks. The plane is conformal
(:class:`skyaccord.geo.LocalPlane`), so a pair's plane distance is its ground distance
times the local scale factor; the kernels compare plane distances with the minima scaled
by the mean scale factor of the pair, and report ground distances.

The boundary rule: a pair is in loss of separation when ``|dz| < H`` and ``d < R``, both
strict, where ``H`` and ``R`` are the minima less a tolerance of 1e-6 ft and 1e-6 NM. Two
aircraft exactly 1,000 ft apart under a 1,000 ft minimum are therefore separated, whatever
rounding the conversion to metres introduces (which is of order 1e-12 m).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from skyaccord.errors import ProtocolError
from skyaccord.geo import FPM, FT, KT, NM, FloatArray, LocalPlane, picture_centre
from skyaccord.protocol import Accord
from skyaccord.tracks import Tracks

__all__ = [
    "TOLERANCE_FT",
    "TOLERANCE_NM",
    "LossInterval",
    "PairGeometry",
    "PlaneState",
    "loss_interval",
    "pair_geometry",
    "plane_state",
]

IntArray = npt.NDArray[np.intp]

#: tolerance taken off the vertical minimum before the strict test, ft
TOLERANCE_FT = 1e-6
#: tolerance taken off the horizontal minimum before the strict test, NM
TOLERANCE_NM = 1e-6

# Below these, relative motion along an axis is treated as none (m^2/s^2 and m/s):
# 1e-12 m^2/s^2 is a relative speed of a micrometre per second.
_STILL_H2 = 1e-12
_STILL_V = 1e-9


class PlaneState(NamedTuple):
    """Tracks in the local plane, SI units, shape (n,) each."""

    x: FloatArray
    """plane east, m"""
    y: FloatArray
    """plane north, m"""
    z: FloatArray
    """altitude, m"""
    vx: FloatArray
    """plane velocity east, plane-m/s"""
    vy: FloatArray
    """plane velocity north, plane-m/s"""
    vz: FloatArray
    """vertical speed, m/s"""
    scale: FloatArray
    """point scale factor of the plane at the track"""
    class_code: npt.NDArray[np.int16]
    """index into ``accord.classes``"""


def class_codes(tracks: Tracks, accord: Accord) -> npt.NDArray[np.int16]:
    """Codes of the tracks' aircraft classes in ``accord.classes``."""
    names, inverse = np.unique(tracks.aircraft_class, return_inverse=True)
    lookup = np.empty(len(names), dtype=np.int16)
    for k, name in enumerate(names):
        if str(name) not in accord.classes:
            raise ProtocolError(
                f"track class {str(name)!r} is not a class of accord {accord.id!r} "
                f"({', '.join(accord.classes)})")
        lookup[k] = accord.classes.index(str(name))
    return lookup[inverse.reshape(-1)]


def plane_state(tracks: Tracks, accord: Accord, plane: LocalPlane | None = None) -> PlaneState:
    """Project tracks onto a plane (by default centred on the picture)."""
    if plane is None:
        plane = LocalPlane(*picture_centre(tracks.lat, tracks.lon)) if len(tracks) else \
            LocalPlane(0.0, 0.0)
    x, y = plane.forward(tracks.lat, tracks.lon)
    factors = plane.factors(tracks.lat, tracks.lon)
    vx, vy = plane.velocity_to_plane(tracks.lat, tracks.lon, tracks.gs_kt * KT,
                                     tracks.trk_deg, factors)
    return PlaneState(x, y, tracks.alt_ft * FT, vx, vy, tracks.vs_fpm * FPM,
                      factors.scale, class_codes(tracks, accord))


class LossInterval(NamedTuple):
    """Open interval (t_in, t_out) of loss of separation on the infinite time line.

    Empty intervals have ``t_in = +inf`` and ``t_out = -inf``; a pair that never leaves
    has ``t_out = +inf``, one that was always in has ``t_in = -inf``.
    """

    t_in: FloatArray
    t_out: FloatArray


def loss_interval(
    px: FloatArray, py: FloatArray, pz: FloatArray,
    vx: FloatArray, vy: FloatArray, vz: FloatArray,
    radius: FloatArray | float, half_height: FloatArray | float,
) -> LossInterval:
    """When ``|p + v t|_h < radius`` and ``|pz + vz t| < half_height``, both strict.

    ``p`` is the relative position, ``v`` the relative velocity (any consistent units).

    Examples
    --------
    Head-on at 20 km, closing at 400 m/s, radius 5 km: inside from 37.5 s to 62.5 s.

    >>> iv = loss_interval(np.array([20e3]), np.array([0.0]), np.array([0.0]),
    ...                    np.array([-400.0]), np.array([0.0]), np.array([0.0]), 5e3, 300.0)
    >>> float(iv.t_in[0]), float(iv.t_out[0])
    (37.5, 62.5)
    """
    # Horizontal: a t^2 + 2 b t + c < 0.
    a = vx * vx + vy * vy
    b = px * vx + py * vy
    c = px * px + py * py - np.square(radius)
    disc = b * b - a * c
    moving = a > _STILL_H2
    with np.errstate(all="ignore"):
        sq = np.sqrt(np.maximum(disc, 0.0))
        # Stable roots: q = -(b + sign(b) sqrt(disc)), roots q/a and c/q.
        q = -(b + np.copysign(sq, b))
        r1 = q / a
        r2 = c / q
    crossing = moving & (disc > 0.0)
    h_in = np.where(crossing, np.minimum(r1, r2), np.inf)
    h_out = np.where(crossing, np.maximum(r1, r2), -np.inf)
    always_h = ~moving & (c < 0.0)
    h_in = np.where(always_h, -np.inf, h_in)
    h_out = np.where(always_h, np.inf, h_out)

    # Vertical: -H < pz + vz t < H.
    climbing = np.abs(vz) > _STILL_V
    with np.errstate(all="ignore"):
        t1 = (-half_height - pz) / vz
        t2 = (half_height - pz) / vz
    v_in = np.where(climbing, np.minimum(t1, t2), np.inf)
    v_out = np.where(climbing, np.maximum(t1, t2), -np.inf)
    always_v = ~climbing & (np.abs(pz) < half_height)
    v_in = np.where(always_v, -np.inf, v_in)
    v_out = np.where(always_v, np.inf, v_out)

    t_in = np.maximum(h_in, v_in)
    t_out = np.minimum(h_out, v_out)
    empty = ~(t_in < t_out)
    return LossInterval(np.where(empty, np.inf, t_in), np.where(empty, -np.inf, t_out))


class PairGeometry(NamedTuple):
    """Relative motion of pairs (j relative to i) in the plane, and their minima."""

    px: FloatArray
    py: FloatArray
    pz: FloatArray
    vx: FloatArray
    vy: FloatArray
    vz: FloatArray
    scale: FloatArray
    """mean plane scale factor of the pair"""
    radius_m: FloatArray
    """class-pair horizontal minimum, ground metres"""
    half_height_m: FloatArray
    """class-pair vertical minimum, metres"""


def pair_geometry(state: PlaneState, i: IntArray, j: IntArray,
                  radius_table_m: FloatArray, half_height_table_m: FloatArray) -> PairGeometry:
    """Gather the relative motion and minima of pairs ``(i[k], j[k])``."""
    ci = state.class_code[i]
    cj = state.class_code[j]
    return PairGeometry(
        state.x[j] - state.x[i], state.y[j] - state.y[i], state.z[j] - state.z[i],
        state.vx[j] - state.vx[i], state.vy[j] - state.vy[i], state.vz[j] - state.vz[i],
        0.5 * (state.scale[i] + state.scale[j]),
        radius_table_m[ci, cj], half_height_table_m[ci, cj],
    )


def interval_for_minima(g: PairGeometry, radius_m: FloatArray | float,
                        half_height_m: FloatArray | float) -> LossInterval:
    """Loss interval of pairs against ground minima (tolerances applied here)."""
    radius_plane = (np.asarray(radius_m) - TOLERANCE_NM * NM) * g.scale
    half_height = np.asarray(half_height_m) - TOLERANCE_FT * FT
    return loss_interval(g.px, g.py, g.pz, g.vx, g.vy, g.vz, radius_plane, half_height)
