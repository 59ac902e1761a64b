"""A conflict message's optional ``priority`` flag (commits bb7960c, 0a3043b): which lane
it puts the message in, and its refusal when it is anything but ``true``. The tests the
mutation run of the line's changed functions at HEAD (``line-units``, commit d975a8c,
tests/mutation/README.md) found missing; each names the mutants it kills (mutmut numbers
in ``skyaccord.line.messages`` at that commit). The rules, from the module docstring of
``skyaccord.line.messages``: a conflict flagged ``priority`` (true) travels in the
priority lane, the recipient's stream key with ``#priority``; ``priority`` on a conflict,
when given, must be true.
"""

from __future__ import annotations

from typing import Any

import pytest

from skyaccord.errors import MessageRefused
from skyaccord.line import parse_message
from skyaccord.line.messages import is_priority, lane
from tests.line.test_messages import build
from tests.line.test_messages_validate_mutation import changed


@pytest.mark.parametrize(("kind", "body", "fast"), [
    ("conflict", {"priority": True}, True),
    ("conflict", {}, False),
    ("response", {"priority": True}, True),
    ("response", {}, False),
    ("distress", {}, True),
    ("text", {}, False),
])
def test_the_lane_of_each_kind(kind: str, body: dict[str, Any], fast: bool) -> None:
    """A conflict flagged ``priority`` goes in the priority lane (``ru#priority``), an
    unflagged one in the ordinary stream (``ru``), as a flagged response does and a
    distress call always does. Kills is_priority 9, 10 (``"conflict"`` misspelled in the
    kinds a flag puts in the lane: a flagged conflict left in the ordinary stream, behind
    the queue the flag is there to overtake)."""
    m = parse_message(changed(kind, body=body))
    assert m.kind == kind and ("priority" in m.body) == ("priority" in body)
    assert is_priority(m) is fast
    assert lane(m) == ("ru#priority" if fast else "ru")


REFUSAL = ("message field 'body.priority': must be true when given (a conflict message in "
           "the priority lane)")


@pytest.mark.parametrize("value", [False, None, 1, 0, "true", [True]])
def test_a_conflict_priority_other_than_true_refused(value: Any) -> None:
    """``priority`` on a conflict is ``true`` or absent; anything else is refused, the
    field and the rule named in full (``1`` is not ``true``: a JSON number, however
    Python compares it). Kills _validate_body 324, 325 (the presence test on a misspelled
    key: never refused), 330 (``is not False``: ``False`` accepted), 331-340 (the field's
    name or the words dropped, misspelled or upper-cased)."""
    with pytest.raises(MessageRefused) as err:
        parse_message(changed("conflict", body={"priority": value}))
    assert str(err.value) == REFUSAL


def test_a_conflict_priority_true_accepted_and_kept() -> None:
    """``priority: true`` on a conflict is accepted and kept in the body (signed with it).
    Kills _validate_body 327, 328 (the value read under a misspelled key: a ``KeyError``
    instead of the message) and 329 (``is True``: the flag refused when it is set)."""
    d = changed("conflict", body={"priority": True})
    m = parse_message(d)
    assert dict(m.body) == d["body"] and m.body["priority"] is True
    signed = build("conflict", body=d["body"])
    assert parse_message(signed.to_dict()).body["priority"] is True
