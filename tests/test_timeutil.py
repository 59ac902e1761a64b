"""RFC 3339 date-times: the one parser and formatter, against calendar.timegm."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta, timezone

import pytest

from skyaccord.errors import AirspaceError, InputError
from skyaccord.timeutil import format_rfc3339, parse_rfc3339, rfc3339_seconds

NOON = calendar.timegm((2025, 6, 1, 12, 0, 0))


@pytest.mark.parametrize("text", ["2025-06-01T12:00:00Z", "2025-06-01T12:00:00z",
                                  "2025-06-01T12:00:00+00:00", "2025-06-01T14:30:00+02:30",
                                  "2025-06-01T11:00:00.000-01:00"])
def test_seconds_of_every_offset_spelling(text: str) -> None:
    assert rfc3339_seconds(text) == NOON


def test_a_datetime_passes_through() -> None:
    when = datetime(2025, 6, 1, 14, tzinfo=timezone(timedelta(hours=2)))
    assert parse_rfc3339(when) is when
    assert rfc3339_seconds(when) == NOON


def test_no_offset_is_refused_unless_utc_is_implied() -> None:
    with pytest.raises(InputError, match="must carry a UTC offset"):
        parse_rfc3339("2025-06-01T12:00:00")
    assert rfc3339_seconds("2025-06-01T12:00:00", naive_is_utc=True) == NOON


def test_the_caller_chooses_the_error() -> None:
    with pytest.raises(AirspaceError, match=r"^zone z: not an RFC 3339 date-time: 'soon'$"):
        parse_rfc3339("soon", error=lambda what: AirspaceError(f"zone z: {what}"))
    with pytest.raises(ValueError):  # InputError is a ValueError for older callers
        parse_rfc3339("2025-13-01T00:00:00Z")


def test_format_writes_z_and_fractions_only_when_present() -> None:
    assert format_rfc3339(float(NOON)) == "2025-06-01T12:00:00Z"
    assert format_rfc3339(NOON + 0.5) == "2025-06-01T12:00:00.500000Z"
    assert format_rfc3339(datetime(2025, 6, 1, 12, tzinfo=UTC)) == "2025-06-01T12:00:00Z"
    when = datetime(2025, 6, 1, 14, tzinfo=timezone(timedelta(hours=2)))
    assert format_rfc3339(when) == "2025-06-01T14:00:00+02:00"
    assert rfc3339_seconds(format_rfc3339(NOON + 0.25)) == NOON + 0.25
