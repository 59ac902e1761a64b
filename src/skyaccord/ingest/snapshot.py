"""The picture at the end of a recorded feed: what ``detect``, ``advise`` and ``airspace
check`` read when they are given a feed (``decode``'s states, a simulator run's tracks
over time, a recording) instead of a one-instant tracks CSV.

Every update goes through :class:`~skyaccord.picture.Picture`, as in ``replay``: reports
are associated, out-of-order ones refused, aircraft on the ground left out, and tracks
not heard for ``max_age_s`` aged out; the snapshot is taken at the feed's last time, each
live track extrapolated to it.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from skyaccord.errors import FeedError
from skyaccord.ingest.feed import read_updates
from skyaccord.ingest.states import FeedStats
from skyaccord.picture import PartyRules, Picture
from skyaccord.tracks import Tracks

__all__ = ["FeedPicture", "picture_at_end"]


class FeedPicture(NamedTuple):
    """The live tracks at time ``t`` (UTC seconds), and what the feed held."""

    tracks: Tracks
    t: float
    stats: FeedStats


def picture_at_end(path: str | Path, fmt: str = "auto", *, max_age_s: float = 60.0,
                   rules: PartyRules | None = None,
                   reference: tuple[float, float] | None = None) -> FeedPicture:
    """The picture of the feed at ``path`` at its last update's time."""
    updates, stats = read_updates(path, fmt, reference)
    if not updates:
        raise FeedError(f"{path}: no state updates in the feed ({stats.read} read, "
                        f"{stats.total_rejected} rejected)")
    picture = Picture(max_age_s, rules)
    picture.update_many(updates)
    t_end = max(u.t for u in updates)
    return FeedPicture(picture.snapshot(t_end), t_end, stats)
