"""Alert levels of conflicts, from the accord's ``[[alerting.levels]]``.

Levels are listed from least to most severe. A conflict gets the most severe level whose
test it meets: loss of separation, against the class-pair minima tightened by the level's
own minima where it names some, beginning before ``min(level.time_s, look-ahead)``.

Level codes: ``k >= 1`` is ``accord.levels[k-1]``; the two codes below are
:class:`LevelCode`, shared by detection and the bands: ``LevelCode.NO_LEVEL`` (0) is a loss
of separation that meets no level (it begins after every level's time threshold), and
``LevelCode.FREE`` (-1, bands only) is no loss of separation at all. Outputs name code 0
``none`` in detection's records (:func:`level_names`) and ``conflict`` in the bands
(:func:`skyaccord.tactical.bands.band_names`, whose ``NONE`` is the free code), as they
always have.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np
import numpy.typing as npt

from skyaccord.protocol import Accord
from skyaccord.tactical.kinematics import PairGeometry, interval_for_minima

__all__ = ["NO_LEVEL_NAME", "LevelCode", "assign_levels", "level_names"]


class LevelCode(IntEnum):
    """The level codes that are not one of the accord's levels (those are 1, 2, ...)."""

    FREE = -1
    """no loss of separation within the look-ahead (a band candidate clear of traffic)"""
    NO_LEVEL = 0
    """a loss of separation within the look-ahead that meets no level's test"""


#: detection's name of :attr:`LevelCode.NO_LEVEL` (the ``level`` of its CSV and JSON)
NO_LEVEL_NAME = "none"


def level_names(accord: Accord) -> tuple[str, ...]:
    """Names by level code: code 0 (:attr:`LevelCode.NO_LEVEL`) is ``"none"``, code k is
    ``accord.levels[k-1]``."""
    return (NO_LEVEL_NAME, *(level.name for level in accord.levels))


def assign_levels(g: PairGeometry, t_in: npt.NDArray[np.float64], accord: Accord,
                  lookahead_s: float) -> npt.NDArray[np.int8]:
    """Level code of each conflict pair.

    ``g`` is the pairs' geometry and ``t_in`` their loss-of-separation start against the
    class-pair minima (clipped at 0).
    """
    codes = np.full(len(t_in), LevelCode.NO_LEVEL, dtype=np.int8)
    undecided = np.ones(len(t_in), dtype=bool)
    for code in range(len(accord.levels), 0, -1):
        level = accord.levels[code - 1]
        horizon = min(level.time_s, lookahead_s)
        if level.minima is None:
            meets = undecided & (t_in < horizon)
        else:
            # Tighter minima lie inside the class-pair ones, so their loss cannot begin
            # before t_in: only pairs with t_in < horizon can meet this level.
            sub = np.flatnonzero(undecided & (t_in < horizon))
            part = PairGeometry(*(np.asarray(f)[sub] for f in g))
            iv = interval_for_minima(
                part,
                np.minimum(part.radius_m, level.minima.horizontal_m),
                np.minimum(part.half_height_m, level.minima.vertical_m),
            )
            hit = (iv.t_in < horizon) & (iv.t_out > 0.0)
            meets = np.zeros(len(t_in), dtype=bool)
            meets[sub[hit]] = True
        codes[meets] = code
        undecided &= ~meets
    return codes
