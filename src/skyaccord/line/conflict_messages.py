"""Conflict messages: tactical conflicts and strategic (intent) conflicts turned into the
bodies of ``conflict`` messages for the other party (the line's ``notice`` kind is another
message; the strategic registry's notices are its record of conflicts told)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from skyaccord.protocol import Accord
from skyaccord.tactical import PairConflicts, conflict_records
from skyaccord.tracks import Tracks

if TYPE_CHECKING:
    from skyaccord.strategic import Intent
    from skyaccord.strategic.registry import Conflict

__all__ = ["strategic_conflict_bodies", "tactical_conflict_bodies"]


def tactical_conflict_bodies(tracks: Tracks, conflicts: PairConflicts, accord: Accord,
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


def strategic_conflict_bodies(intent: Intent, conflicts: Sequence[Conflict], now_s: float
                            ) -> list[tuple[str, dict[str, Any]]]:
    """(recipient party, ``conflict`` body) for each of ``intent``'s strategic conflicts.

    ``conflicts`` are what the registry's ``check`` (or a refused ``submit``) found
    against other parties' active intents. ``t_in_s`` counts from ``now_s`` (UTC) to the
    earliest start of our volumes in conflict (0 when already active); ``level`` is
    ``blocking`` when the other intent has equal or higher priority, else ``advisory``.
    """
    out = []
    for c in conflicts:
        if c.party == intent.party:
            continue
        start = min(intent.volumes[i].time_start for i, _ in c.pairs) if c.pairs else now_s
        out.append((c.party, {
            "source": "strategic", "id1": intent.id, "id2": c.intent_id,
            "t_in_s": max(0.0, start - now_s),
            "level": "blocking" if c.blocking else "advisory",
            "text": (f"our intent {intent.id} v{intent.version} conflicts with your intent "
                     f"{c.intent_id} v{c.version} in {len(c.pairs)} volume pair(s)"),
        }))
    return out
