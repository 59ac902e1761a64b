"""RFC 3339 date-times: the one parser and formatter of skyaccord.

A date-time is read as RFC 3339 section 5.6 writes it (``2025-06-01T10:00:00Z``, an offset
such as ``+02:00``; a ``Z``/``z`` suffix is UTC, RFC 3339 section 5.6 note) through
:meth:`datetime.datetime.fromisoformat`, and written back as ISO 8601 text with ``Z`` for
UTC and microseconds only when there are some. A caller decides what a bad value is to
it: pass ``error``, a function that builds the exception to raise from a message.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from skyaccord.errors import InputError

__all__ = ["format_interval", "format_rfc3339", "parse_rfc3339", "rfc3339_seconds"]


def parse_rfc3339(value: object, *, naive_is_utc: bool = False,
                  error: Callable[[str], Exception] = InputError) -> datetime:
    """An aware :class:`~datetime.datetime` of an RFC 3339 date-time.

    ``value`` is a :class:`~datetime.datetime` (TOML hands those over as they are) or
    its text (anything else is read as ``str(value)``). A date-time without an offset is
    refused unless ``naive_is_utc`` (a reader of data that leaves UTC implicit). Refusals
    raise ``error(message)``: :class:`~skyaccord.errors.InputError` unless given.

    >>> parse_rfc3339("2025-06-01T10:00:00Z").isoformat()
    '2025-06-01T10:00:00+00:00'
    >>> parse_rfc3339("2025-06-01T10:00:00", naive_is_utc=True).isoformat()
    '2025-06-01T10:00:00+00:00'
    >>> parse_rfc3339("2025-06-01T10:00:00")
    Traceback (most recent call last):
    ...
    skyaccord.errors.InputError: must carry a UTC offset (e.g. ...Z), got '2025-06-01T10:00:00'
    """
    if isinstance(value, datetime):
        when = value
    else:
        text = str(value)
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            when = datetime.fromisoformat(text)
        except ValueError:
            raise error(f"not an RFC 3339 date-time: {value!r}") from None
    if when.tzinfo is None:
        if not naive_is_utc:
            raise error(f"must carry a UTC offset (e.g. ...Z), got {value!r}")
        when = when.replace(tzinfo=UTC)
    return when


def rfc3339_seconds(value: object, *, naive_is_utc: bool = False,
                    error: Callable[[str], Exception] = InputError) -> float:
    """UTC seconds since the epoch of an RFC 3339 date-time (see :func:`parse_rfc3339`).

    >>> rfc3339_seconds("1970-01-01T01:00:00+01:00")
    0.0
    """
    return parse_rfc3339(value, naive_is_utc=naive_is_utc, error=error).timestamp()


def format_rfc3339(when: datetime | float) -> str:
    """ISO 8601 / RFC 3339 text of an aware date-time or of UTC seconds: ``Z`` for UTC,
    the offset otherwise, fractional seconds only when there are some.

    >>> format_rfc3339(0.0)
    '1970-01-01T00:00:00Z'
    >>> format_rfc3339(1.25)
    '1970-01-01T00:00:01.250000Z'
    >>> format_rfc3339(datetime.fromisoformat("2025-06-01T12:00:00+02:00"))
    '2025-06-01T12:00:00+02:00'
    """
    if not isinstance(when, datetime):
        when = datetime.fromtimestamp(when, UTC)
    return when.isoformat().replace("+00:00", "Z")


def format_interval(start: float, end: float) -> str:
    """An ISO 8601 time interval of UTC seconds, ``START/END``, the end without its date
    when both fall on the same UTC day (ISO 8601-1:2019 §5.5.2 lets the end omit the
    leading components it shares with the start) — short enough for a table row.

    >>> format_interval(0.0, 3600.0)
    '1970-01-01T00:00:00Z/01:00:00Z'
    >>> format_interval(0.0, 86400.0)
    '1970-01-01T00:00:00Z/1970-01-02T00:00:00Z'
    """
    a, b = format_rfc3339(start), format_rfc3339(end)
    if a[:11] == b[:11]:  # same date and the 'T'
        b = b[11:]
    return f"{a}/{b}"
