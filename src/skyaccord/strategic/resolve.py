"""Resolutions for a refused intent: the earliest conflict-free delay and the nearest
conflict-free altitude block, within limits the submitter gives.

Both are exact, not searched on a grid. Shifting every volume of the intent by ``s``
seconds turns each pair (own volume ``a``, other volume ``b``) that conflicts in space
(horizontally and vertically, time ignored) into one forbidden open interval of shifts,
``(b.start - a.end, b.end - a.start)``; the earliest allowed shift is found by one sweep
over the sorted intervals. Altitude works the same way on pairs that conflict in time and
horizontally: moving the intent by ``dz`` is forbidden on
``(b.lower - V - a.upper, b.upper + V - a.lower)``; the nearest allowed ``dz`` is 0 or an
interval's end. Results are rounded outward to the submitter's step (1 s, 100 ft by
default) and confirmed with the exact conflict test of :mod:`.intersect`.

Only blocking conflicts count (other parties' intents of equal or higher priority): a
resolved intent is one the registry would accept.

Examples
--------
>>> earliest_shift([(-5.0, 3.0), (0.0, 10.0), (12.0, 20.0)], 100.0, 1.0)
10.0
>>> nearest_offset([(-1500.0, 800.0)], -5000.0, 5000.0, 100.0)
800.0
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from skyaccord.strategic.intersect import PlacedVolume, place, volumes_conflict
from skyaccord.strategic.registry import Registry
from skyaccord.strategic.volumes import Intent

__all__ = [
    "ResolutionLimits",
    "Resolutions",
    "earliest_shift",
    "nearest_offset",
    "resolve",
]


@dataclass(frozen=True)
class ResolutionLimits:
    """What the submitter accepts: a delay up to ``max_delay_s``; an altitude block whose
    volumes stay within ``[alt_floor_ft, alt_ceiling_ft]``; the steps of each."""

    max_delay_s: float = 6 * 3600.0
    alt_floor_ft: float = 0.0
    alt_ceiling_ft: float = 60_000.0
    time_step_s: float = 1.0
    alt_step_ft: float = 100.0


@dataclass(frozen=True)
class Resolutions:
    #: earliest delay (s, >= 0) that clears all blocking conflicts; None when none fits
    delay_s: float | None
    #: nearest altitude change (ft) that clears them; None when none fits
    altitude_offset_ft: float | None


def earliest_shift(forbidden: Sequence[tuple[float, float]], max_shift: float,
                   step: float) -> float | None:
    """Least multiple of ``step`` in ``[0, max_shift]`` outside every open interval."""
    s = 0.0
    for lo, hi in sorted(forbidden):
        if lo < s < hi:
            s = math.ceil(hi / step) * step
    # a later interval can start before the last jump's end: sweep until stable
    changed = True
    while changed:
        changed = False
        for lo, hi in forbidden:
            if lo < s < hi:
                s = math.ceil(hi / step) * step
                changed = True
    return s if s <= max_shift else None


def nearest_offset(forbidden: Sequence[tuple[float, float]], lo_limit: float,
                   hi_limit: float, step: float) -> float | None:
    """Offset of least magnitude (ties: upward) in ``[lo_limit, hi_limit]``, a multiple of
    ``step``, outside every open interval."""
    cands = {0.0}
    for lo, hi in forbidden:
        cands.add(math.floor(lo / step) * step)
        cands.add(math.ceil(hi / step) * step)
    best: float | None = None
    for c in sorted(cands, key=lambda c: (abs(c), -c)):
        if lo_limit <= c <= hi_limit and not any(lo < c < hi for lo, hi in forbidden):
            best = c
            break
    return best


def _blocking(registry: Registry, intent: Intent, dt: float, dz: float
              ) -> list[tuple[Intent, list[PlacedVolume], float, float]]:
    out = []
    for other, placed in registry.nearby(intent, dt, dz):
        if other.priority >= intent.priority:
            m = registry.accord.minima(intent.aircraft_class, other.aircraft_class)
            out.append((other, placed, m.horizontal_m, m.vertical_ft))
    return out


def _clear(registry: Registry, intent: Intent,
           others: list[tuple[Intent, list[PlacedVolume], float, float]]) -> bool:
    mine = [place(v, registry.plane) for v in intent.volumes]
    return not any(volumes_conflict(a, b, h, v) for a in mine
                   for _, ps, h, v in others for b in ps)


def resolve(registry: Registry, intent: Intent,
            limits: ResolutionLimits | None = None) -> Resolutions:
    """Earliest delay and nearest altitude block that clear ``intent``'s blocking
    conflicts against the registry's current intents (module doc)."""
    lim = limits or ResolutionLimits()
    mine = [place(v, registry.plane) for v in intent.volumes]
    # delay: others within the delay window
    others = _blocking(registry, intent, lim.max_delay_s, 0.0)
    forbidden_t = [(b.volume.time_start - a.volume.time_end,
                    b.volume.time_end - a.volume.time_start)
                   for a in mine for _, ps, h, v in others for b in ps
                   if volumes_conflict(a, b, h, v, ignore_time=True)]
    delay = earliest_shift(forbidden_t, lim.max_delay_s, lim.time_step_s)
    while delay is not None and not _clear(registry, intent.shifted(dt_s=delay), others):
        delay = earliest_shift([*forbidden_t, (delay - lim.time_step_s / 2,
                                               delay + lim.time_step_s / 2)],
                               lim.max_delay_s, lim.time_step_s)
    # altitude: others over the whole allowed altitude range
    lower = min(v.alt_lower_ft for v in intent.volumes)
    upper = max(v.alt_upper_ft for v in intent.volumes)
    dz_lo, dz_hi = lim.alt_floor_ft - lower, lim.alt_ceiling_ft - upper
    span = max(abs(dz_lo), abs(dz_hi))
    others_z = _blocking(registry, intent, 0.0, span)
    forbidden_z = [(b.volume.alt_lower_ft - v - a.volume.alt_upper_ft,
                    b.volume.alt_upper_ft + v - a.volume.alt_lower_ft)
                   for a in mine for _, ps, h, v in others_z for b in ps
                   if volumes_conflict(a, b, h, v, ignore_vertical=True)]
    offset = nearest_offset(forbidden_z, dz_lo, dz_hi, lim.alt_step_ft)
    while offset is not None and not _clear(registry, intent.shifted(dz_ft=offset),
                                            others_z):
        forbidden_z.append((offset - lim.alt_step_ft / 2, offset + lim.alt_step_ft / 2))
        offset = nearest_offset(forbidden_z, dz_lo, dz_hi, lim.alt_step_ft)
    return Resolutions(delay, offset)
