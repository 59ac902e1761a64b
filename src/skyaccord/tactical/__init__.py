"""Tactical conflict detection: predicted losses of separation and their alert levels.

Public API: :func:`detect` (pruned, the one to use), :func:`detect_all_pairs` (the O(N^2)
reference), :class:`PairConflicts`, :func:`conflict_records`, :func:`level_names`;
resolution guidance: :func:`bands_for`, :func:`advise` (:mod:`skyaccord.tactical.bands`).
"""

from skyaccord.tactical.bands import Advice, BandSettings, advise, band_names, bands_for
from skyaccord.tactical.detect import (
    ConflictRecord,
    PairConflicts,
    candidate_pairs,
    conflict_records,
    detect,
    detect_all_pairs,
)
from skyaccord.tactical.levels import level_names

__all__ = [
    "Advice",
    "BandSettings",
    "ConflictRecord",
    "PairConflicts",
    "advise",
    "band_names",
    "bands_for",
    "candidate_pairs",
    "conflict_records",
    "detect",
    "detect_all_pairs",
    "level_names",
]
