"""The one exception hierarchy of skyaccord.

Every error raised on purpose by skyaccord derives from :class:`SkyaccordError`; foreign
exceptions (sqlite3, psycopg, httpx, OSError) are translated at the boundary where they
occur, so that a caller can catch one tree::

    SkyaccordError
     ├── ProtocolError        the accord file or value is invalid
     ├── TrackDataError       a picture or tracks file is invalid (names line and column)
     ├── FeedError            a surveillance feed cannot be read or decoded
     ├── AirspaceError        a zone definition is invalid
     ├── IntentError          a planned operation (4D volume) is invalid
     │    └── IntentConflict  a write was refused because it conflicts
     ├── StoreError           the store could not read or write
     ├── LineError            the line (messages between nodes) refused or failed
     │    ├── SignatureError  a signature did not verify
     │    └── MessageRefused  a message was malformed, replayed, out of order or stale
     └── SimulationError      a scenario cannot be run
"""

from __future__ import annotations

__all__ = [
    "AirspaceError",
    "FeedError",
    "IntentConflict",
    "IntentError",
    "LineError",
    "MessageRefused",
    "ProtocolError",
    "SignatureError",
    "SimulationError",
    "SkyaccordError",
    "StoreError",
    "TrackDataError",
]


class SkyaccordError(Exception):
    """Root of every error that skyaccord raises on purpose."""


class ProtocolError(SkyaccordError):
    """The accord is invalid: the message names the file, the key and what is wrong."""


class TrackDataError(SkyaccordError):
    """A tracks picture or file is invalid: the message names the line and column."""


class FeedError(SkyaccordError):
    """A surveillance feed cannot be read or decoded."""


class AirspaceError(SkyaccordError):
    """A zone or border definition is invalid."""


class IntentError(SkyaccordError):
    """A planned operation (intent, 4D volume) is invalid."""


class IntentConflict(IntentError):
    """A write was refused because it conflicts with other parties' intents."""


class StoreError(SkyaccordError):
    """The store could not read or write."""


class LineError(SkyaccordError):
    """The line refused a message or could not deliver it."""


class SignatureError(LineError):
    """A signature did not verify, or the signing key is unknown."""


class MessageRefused(LineError):
    """A message was refused: malformed, replayed, out of order or outside the skew window."""


class SimulationError(SkyaccordError):
    """A scenario is invalid or cannot be run."""
