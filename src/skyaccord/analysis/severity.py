"""Severity of encounters: EUROCONTROL (ESARR 2) classes A–E and ICAO AIRPROX classes.

ESARR 2 names the classes (A serious incident, B major incident, C significant
incident, D not determined, E no safety effect) and ICAO Doc 4444 the AIRPROX risk
classes (risk of collision, safety not assured, no risk of collision, risk not
determined) without one numeric rule; the rule here is ours, stated so that it can be
argued with, and scaled by the accord's own minima so that it follows the accord:

- **A** / *risk of collision*: closer than the near mid-air collision volume at some
  instant, 500 ft horizontally and 100 ft vertically (DO-365's NMAC, DOMAIN.md);
- **B** / *safety not assured*: a loss of separation with both distances under half the
  pair's minima at one instant (``max(d/R, |dz|/H) < 0.5``);
- **C** / *no risk of collision*: any other loss of separation;
- **D** / *risk not determined*: a track was lost next to the closest approach;
- **E** / *no risk of collision* (no safety effect): no loss of separation.

The fractions and the NMAC volume are the fields of :class:`SeverityRules`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from skyaccord.analysis.encounters import Encounters
from skyaccord.geo import FT

__all__ = ["EUROCONTROL", "ICAO", "SeverityRules", "classify"]

EUROCONTROL = {"A": "serious incident", "B": "major incident", "C": "significant incident",
               "D": "not determined", "E": "no safety effect"}
ICAO = {"A": "risk of collision", "B": "safety not assured", "C": "no risk of collision",
        "D": "risk not determined", "E": "no risk of collision"}


@dataclass(frozen=True)
class SeverityRules:
    nmac_h_ft: float = 500.0
    nmac_v_ft: float = 100.0
    major_fraction: float = 0.5


def classify(enc: Encounters, rules: SeverityRules = SeverityRules()
             ) -> npt.NDArray[np.str_]:
    """The class letter of each encounter (see the module's rule).

    The NMAC test uses the instant of the deepest loss of separation against the
    accord's minima and the closest horizontal approach, whichever is closer.
    """
    nh, nv = rules.nmac_h_ft * FT, rules.nmac_v_ft * FT
    nmac = ((enc.h_miss_m < nh) & (enc.v_miss_m < nv)) | (
        (enc.ratio_h_m < nh) & (enc.ratio_v_m < nv))
    out = np.full(len(enc), "E", dtype="<U1")
    los = enc.los_s > 0
    out[los] = "C"
    out[los & (enc.ratio < rules.major_fraction)] = "B"
    out[nmac] = "A"
    out[enc.gap & ~nmac] = "D"
    return out
