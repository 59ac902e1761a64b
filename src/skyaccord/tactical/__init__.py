"""Tactical conflict detection: predicted losses of separation and their alert levels.

Public API: :func:`detect` (pruned, the one to use), :func:`detect_all_pairs` (the O(N^2)
reference), :class:`Conflicts`, :func:`conflict_records`, :func:`level_names`.
"""

from skyaccord.tactical.detect import (
    ConflictRecord,
    Conflicts,
    candidate_pairs,
    conflict_records,
    detect,
    detect_all_pairs,
)
from skyaccord.tactical.levels import level_names

__all__ = [
    "ConflictRecord",
    "Conflicts",
    "candidate_pairs",
    "conflict_records",
    "detect",
    "detect_all_pairs",
    "level_names",
]
