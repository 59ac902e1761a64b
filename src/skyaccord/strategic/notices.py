"""Notices to the owners of lower-priority intents that an accepted write now conflicts
with (ASTM F3548-21 lets a higher-priority operation be planned over a lower-priority
one; the lower one's owner must replan).

A notice is written in the transaction that accepts the higher-priority intent, one per
affected intent, and stored as a :class:`~skyaccord.store.NoticeRow` whose JSON body
holds the affected intent's version, the accepted intent (id, party, version, priority)
and the volume pairs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from skyaccord.store.base import NoticeRow
from skyaccord.strategic.conflicts import Conflicts
from skyaccord.strategic.volumes import Intent

__all__ = ["Notice", "notice_from_row", "notice_rows"]


@dataclass(frozen=True)
class Notice:
    """A lower-priority intent that a higher-priority write now conflicts with.

    ``intent_id`` (of ``party``, at ``version``) is the affected intent; ``by_*`` name
    the accepted write; ``pairs`` are (affected volume, accepted volume) index pairs.
    ``seq`` orders notices (poll with ``after=`` the last one seen).
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


def notice_rows(accepted: Intent, conflicts: Conflicts) -> list[NoticeRow]:
    """The rows that record a notice to each intent of ``conflicts`` that ``accepted``
    (as stored) was accepted over (the store numbers them)."""
    return [NoticeRow(0, c.intent_id, c.party, json.dumps(
        {"version": c.version, "by": [accepted.id, accepted.party, accepted.version,
                                      accepted.priority],
         "pairs": [[b, a] for a, b in c.pairs]}, separators=(",", ":")))
        for c in conflicts]


def notice_from_row(row: NoticeRow) -> Notice:
    """The notice recorded in ``row``."""
    d = json.loads(row.body)
    by_id, by_party, by_version, by_priority = d["by"]
    return Notice(row.seq, row.intent_id, row.party, int(d["version"]), by_id, by_party,
                  int(by_version), int(by_priority),
                  tuple((int(a), int(b)) for a, b in d["pairs"]))
