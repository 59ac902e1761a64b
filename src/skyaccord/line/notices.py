"""Conflict notices: tactical conflicts turned into message bodies for the other party."""

from __future__ import annotations

import math
from typing import Any

from skyaccord.protocol import Accord
from skyaccord.tactical import Conflicts, conflict_records
from skyaccord.tracks import Tracks

__all__ = ["conflict_notice_bodies"]


def conflict_notice_bodies(tracks: Tracks, conflicts: Conflicts, accord: Accord,
                           own_party: str) -> list[tuple[str, dict[str, Any]]]:
    """(recipient party, ``conflict`` body) for each conflict of ours with another party.

    Conflicts between two aircraft of the same party, or not involving ``own_party``,
    are nobody else's business on this line and are left out. Ordered as
    :func:`~skyaccord.tactical.conflict_records` (by ``t_in_s``, ids). ``t_out_s`` is
    ``None`` when the loss never ends on straight lines (JSON has no infinity).
    """
    party_of = {str(i): str(p) for i, p in zip(tracks.id, tracks.party, strict=True)}
    out = []
    for r in conflict_records(tracks, conflicts, accord):
        parties = {party_of[r.id1], party_of[r.id2]}
        if own_party not in parties or len(parties) == 1:
            continue
        (other,) = parties - {own_party}
        body: dict[str, Any] = {
            "source": "tactical", "id1": r.id1, "id2": r.id2, "t_in_s": r.t_in_s,
            "t_out_s": r.t_out_s if math.isfinite(r.t_out_s) else None,
            "tcpa_s": r.tcpa_s, "dcpa_nm": r.dcpa_nm, "dz_ft": r.dz_ft, "level": r.level,
            "text": (f"{r.level}: {r.id1} and {r.id2} lose separation in {r.t_in_s:.0f} s, "
                     f"closest {r.dcpa_nm:.2f} NM / {abs(r.dz_ft):.0f} ft at "
                     f"{r.tcpa_s:.0f} s"),
        }
        out.append((other, body))
    return out
