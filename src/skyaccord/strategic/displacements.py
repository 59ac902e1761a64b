"""Displacements: lower-priority intents that an accepted write now conflicts with.

ASTM F3548-21 lets a higher-priority operation be planned over a lower-priority one; the
lower one's owner must replan. The registry records one :class:`Displacement` per
affected intent in the transaction that accepts the higher-priority intent, stored as a
:class:`~skyaccord.store.DisplacementRow` whose JSON body holds the affected intent's
version, the accepted intent (id, party, version, priority) and the volume pairs.

Names: the CLI shows them as ``skyaccord intents notices`` (the command's name is kept)
and the stores keep them in the table ``intent_notices`` (its name is kept, so that
existing stores open unchanged). A *notice* elsewhere in skyaccord is a line message
(:mod:`skyaccord.line`), not this record.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from skyaccord.store.base import DisplacementRow
from skyaccord.strategic.codec import stored_json
from skyaccord.strategic.conflicts import IntentConflicts
from skyaccord.strategic.volumes import Intent

__all__ = ["Displacement", "displacement_from_row", "displacement_rows"]


@dataclass(frozen=True)
class Displacement:
    """A lower-priority intent that a higher-priority write now conflicts with.

    ``intent_id`` (of ``party``, at ``version``) is the affected intent; ``by_*`` name
    the accepted write; ``pairs`` are (affected volume, accepted volume) index pairs.
    ``seq`` orders displacements (poll with ``after=`` the last one seen).
    """

    seq: int
    intent_id: str
    party: str
    version: int
    by_intent_id: str
    by_party: str
    by_version: int
    by_priority: int
    pairs: tuple[tuple[int, int], ...]


def displacement_rows(accepted: Intent, conflicts: IntentConflicts
                      ) -> list[DisplacementRow]:
    """The rows that record the displacement of each intent of ``conflicts`` that
    ``accepted`` (as stored) was accepted over (the store numbers them)."""
    # stored bytes: keys in the order written since the first version (codec.stored_json)
    return [DisplacementRow(0, c.intent_id, c.party, stored_json(
        {"version": c.version, "by": [accepted.id, accepted.party, accepted.version,
                                      accepted.priority],
         "pairs": [[b, a] for a, b in c.pairs]}, sort_keys=False))
        for c in conflicts]


def displacement_from_row(row: DisplacementRow) -> Displacement:
    """The displacement recorded in ``row``."""
    d = json.loads(row.body)
    by_id, by_party, by_version, by_priority = d["by"]
    return Displacement(row.seq, row.intent_id, row.party, int(d["version"]), by_id,
                        by_party, int(by_version), int(by_priority),
                        tuple((int(a), int(b)) for a, b in d["pairs"]))
