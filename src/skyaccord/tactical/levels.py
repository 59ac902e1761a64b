"""Alert levels of conflicts, from the accord's ``[[alerting.levels]]``.

Levels are listed from least to most severe. A conflict gets the most severe level whose
test it meets: loss of separation, against the class-pair minima tightened by the level's
own minima where it names some, beginning before ``min(level.time_s, look-ahead)``. Code 0
means no level applies (a conflict later than every level's time threshold).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from skyaccord.protocol import Accord
from skyaccord.tactical.kinematics import PairGeometry, interval_for_minima

__all__ = ["NO_LEVEL", "assign_levels", "level_names"]

NO_LEVEL = "none"


def level_names(accord: Accord) -> tuple[str, ...]:
    """Names by level code: code 0 is ``"none"``, code k is ``accord.levels[k-1]``."""
    return (NO_LEVEL, *(level.name for level in accord.levels))


def assign_levels(g: PairGeometry, t_in: npt.NDArray[np.float64], accord: Accord,
                  lookahead_s: float) -> npt.NDArray[np.int8]:
    """Level code of each conflict pair.

    ``g`` is the pairs' geometry and ``t_in`` their loss-of-separation start against the
    class-pair minima (clipped at 0).
    """
    codes = np.zeros(len(t_in), dtype=np.int8)
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
