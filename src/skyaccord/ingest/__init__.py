"""Surveillance in: recorded and live feeds read into state updates for the picture.

Public API: :func:`open_feed` / :func:`read_updates` (recorded files, any format),
:class:`ModeSDecoder` (raw Mode S / ADS-B, vectorised; rs1090 for the rare messages),
:class:`BeastParser`,
:class:`TcpFeed` (live dump1090/readsb sockets with reconnect), :func:`replay`,
:class:`StateUpdate`, :class:`FeedStats`.
"""

from skyaccord.ingest.decoder import ModeSDecoder
from skyaccord.ingest.feed import open_feed, read_updates
from skyaccord.ingest.formats import FORMATS, STATE_COLUMNS, sniff_format
from skyaccord.ingest.modes import BeastParser, RawFrame
from skyaccord.ingest.states import REASONS, FeedStats, StateUpdate

__all__ = [
    "FORMATS",
    "REASONS",
    "STATE_COLUMNS",
    "BeastParser",
    "FeedStats",
    "ModeSDecoder",
    "RawFrame",
    "StateUpdate",
    "open_feed",
    "read_updates",
    "sniff_format",
]
