"""The one exception hierarchy of skyaccord, with what each error means to a caller.

Every error raised on purpose by skyaccord derives from :class:`SkyaccordError`; foreign
exceptions (sqlite3, psycopg, httpx, OSError) are translated at the boundary where they
occur, so that a caller can catch one tree::

    SkyaccordError                 kind              HTTP  exit
     ├── InputError                invalid-input      400     2   a value or argument is invalid
     ├── ProtocolError             invalid-accord     400     2   the accord file or value
     ├── TrackDataError            invalid-tracks     400     2   a picture or tracks file
     ├── FeedError                 feed-failed        400     2   a feed cannot be read/decoded
     ├── AirspaceError             invalid-zone       400     2   a zone definition
     ├── IntentError               invalid-intent     400     2   a planned operation (4D volume)
     │    └── IntentConflict       intent-conflict    409     3   refused: it conflicts
     ├── StoreError                store-failed       503     1   the store could not read/write
     ├── LineError                 line-failed        400     2   the line refused or failed
     │    ├── SignatureError       bad-signature      403     2   a signature did not verify
     │    ├── AccordUndecided      accord-undecided   503     1   held: which version is in
     │    │                                                     force is not known yet
     │    └── MessageRefused       message-refused    400     2   a message was malformed
     │         ├── AccordMismatch  accord-mismatch    409     2   sent under another accord
     │         └── SequenceError   sequence-conflict  409     2   replayed, out of order, reused id
     └── ServiceError              service-error      400     2   a request to a node's API failed
          ├── Unauthenticated      unauthenticated    401     2   no valid operator token
          ├── PermissionDenied     forbidden          403     2   the token's role does not allow it
          ├── NotFound             not-found          404     2   no such resource
          └── PayloadTooLarge      payload-too-large  413     2   the body is over the limit

The table is the one place where an error's meaning is decided: the node's API answers
``http_status`` with an RFC 9457 problem whose type is :func:`problem_type`, and the CLI
exits with ``exit_code``. Nobody reads an error's text to decide what it means.
"""

from __future__ import annotations

__all__ = [
    "AccordMismatch",
    "AccordUndecided",
    "AirspaceError",
    "FeedError",
    "InputError",
    "IntentConflict",
    "IntentError",
    "LineError",
    "MessageRefused",
    "NotFound",
    "PayloadTooLarge",
    "PermissionDenied",
    "ProtocolError",
    "SequenceError",
    "ServiceError",
    "SignatureError",
    "SkyaccordError",
    "StoreError",
    "TrackDataError",
    "Unauthenticated",
    "problem_type",
]

PROBLEM_TYPE_BASE = "urn:skyaccord:problem:"


class SkyaccordError(Exception):
    """Root of every error that skyaccord raises on purpose.

    ``details`` (keyword) are facts a caller may act on, beyond the message: the node's
    API adds them to the problem document as extension members (RFC 9457 §3.2).
    """

    kind: str = "error"
    http_status: int = 400
    exit_code: int = 2

    def __init__(self, *args: object, details: dict[str, object] | None = None) -> None:
        super().__init__(*args)
        self.details: dict[str, object] = dict(details or {})


class InputError(SkyaccordError, ValueError):
    """A value or argument given to a function is invalid (also a ``ValueError``)."""

    kind = "invalid-input"


class ProtocolError(SkyaccordError):
    """The accord is invalid: the message names the file, the key and what is wrong."""

    kind = "invalid-accord"


class TrackDataError(SkyaccordError):
    """A tracks picture or file is invalid: the message names the line and column."""

    kind = "invalid-tracks"


class FeedError(SkyaccordError):
    """A surveillance feed cannot be read or decoded."""

    kind = "feed-failed"


class AirspaceError(SkyaccordError):
    """A zone or border definition is invalid."""

    kind = "invalid-zone"


class IntentError(SkyaccordError):
    """A planned operation (intent, 4D volume) is invalid."""

    kind = "invalid-intent"


class IntentConflict(IntentError):
    """A write was refused because it conflicts with other parties' intents."""

    kind = "intent-conflict"
    http_status = 409
    exit_code = 3


class StoreError(SkyaccordError):
    """The store could not read or write."""

    kind = "store-failed"
    http_status = 503
    exit_code = 1  # the run failed (a server down, a disk full), not the user's input


class LineError(SkyaccordError):
    """The line refused a message or could not deliver it."""

    kind = "line-failed"


class SignatureError(LineError):
    """A signature did not verify, or the signing key is unknown."""

    kind = "bad-signature"
    http_status = 403


class AccordUndecided(LineError):
    """Held, not refused for good: a proposal's effective time has passed and this node
    does not yet know whether every party accepted it in time, so it does not know which
    version is in force. A message signed under a guess would be refused for good by the
    nodes that know (a stream is ordered: one refused message stalls it), so ordinary
    messages are neither signed nor accepted until the outcome is known; try again later
    (a peer's answer, or any later message of the party not heard from, decides it).

    ``details``: ``proposals``, each with its ``sha256``, ``version``, ``effective_at``
    and the parties ``awaiting`` word from.
    """

    kind = "accord-undecided"
    http_status = 503
    exit_code = 1  # a state that passes, not the caller's input


class MessageRefused(LineError):
    """A message was refused: malformed, or not for this node."""

    kind = "message-refused"


class AccordMismatch(MessageRefused):
    """A message was sent under another accord than the one this node holds."""

    kind = "accord-mismatch"
    http_status = 409


class SequenceError(MessageRefused):
    """A message replays a used sequence number, skips ahead, or reuses a logged id.

    ``expected`` is the sequence number the receiver's stream waits for, when known: the
    sender re-sends from there after a receiver lost messages (restored from a backup).
    """

    kind = "sequence-conflict"
    http_status = 409

    def __init__(self, *args: object, expected: int | None = None) -> None:
        super().__init__(*args)
        self.expected = expected


class ServiceError(SkyaccordError):
    """A request to a node's API cannot be served."""

    kind = "service-error"


class Unauthenticated(ServiceError):
    """The request carries no valid operator token."""

    kind = "unauthenticated"
    http_status = 401


class PermissionDenied(ServiceError):
    """The operator's role does not allow this request."""

    kind = "forbidden"
    http_status = 403


class NotFound(ServiceError):
    """The resource asked for does not exist."""

    kind = "not-found"
    http_status = 404


class PayloadTooLarge(ServiceError):
    """The request body is over the node's limit."""

    kind = "payload-too-large"
    http_status = 413


def problem_type(error: SkyaccordError | type[SkyaccordError]) -> str:
    """The RFC 9457 problem type URI of an error (class or instance).

    >>> problem_type(IntentConflict)
    'urn:skyaccord:problem:intent-conflict'
    """
    return PROBLEM_TYPE_BASE + error.kind
