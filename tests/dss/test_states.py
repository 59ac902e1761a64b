"""Every state change of an operational intent reference, with every scope the document
names for it: Nonconforming and Contingent only with ``utm.conformance_monitoring_sa``
(the document's ``OperationalIntentState``: off-nominal states are the conformance
monitoring role's), Accepted and Activated only with ``utm.strategic_coordination``,
whatever the state before; transitions the state machine does not have are 400.

The expected answers are this file's own reading of the document (the table below), not
the DSS's: a new intent is Accepted; Accepted may stay or go anywhere; Activated may stay,
or go off-nominal; Nonconforming may stay, return to Activated, or become Contingent;
Contingent may only stay (it ends by deletion).
"""

from __future__ import annotations

import itertools
import time

import pytest

from tests.dss.conftest import CMSA, OIR, OIR_OVN, SC, Client, circle, intent, new_id

LAT, LNG = 59.33, 18.07  # Stockholm
STATES = ("Accepted", "Activated", "Nonconforming", "Contingent")
ALLOWED = {
    None: {"Accepted"},
    "Accepted": {"Accepted", "Activated", "Nonconforming", "Contingent"},
    "Activated": {"Activated", "Nonconforming", "Contingent"},
    "Nonconforming": {"Nonconforming", "Activated", "Contingent"},
    "Contingent": {"Contingent"},
}
#: how to reach each state from a new intent (each step allowed, with both scopes)
PATH = {"Accepted": [], "Activated": ["Activated"], "Nonconforming": ["Nonconforming"],
        "Contingent": ["Contingent"]}
SCOPE_SETS = {"sc": (SC,), "cmsa": (CMSA,), "both": (SC, CMSA)}


def expected(before: str | None, after: str, scopes: tuple[str, ...]) -> int:
    needs = CMSA if after in ("Nonconforming", "Contingent") else SC
    if needs not in scopes:
        return 403
    if after not in ALLOWED[before]:
        return 400
    return 201 if before is None else 200


@pytest.fixture
def backend() -> str:
    return "sqlite"


@pytest.mark.parametrize(("before", "after", "who"), list(itertools.product(
    (None, *STATES), STATES, SCOPE_SETS)))
def test_each_transition_with_each_scope(client: Client, before: str | None, after: str,
                                         who: str) -> None:
    now = time.time()
    vol = circle(LAT, LNG, 300, now + 60, now + 1800)
    both = client.authority.headers("uss-m", SC, CMSA)
    eid = new_id()
    ovn = None
    if before is not None:
        status, out = client.call("PUT", OIR, both, intent(vol, implicit=True), entityid=eid)
        assert status == 201, out
        ovn = out["operational_intent_reference"]["ovn"]
        for step in PATH[before]:
            status, out = client.call("PUT", OIR_OVN, both,
                                      intent(vol, state=step, implicit=True),
                                      entityid=eid, ovn=ovn)
            assert status == 200, out
            ovn = out["operational_intent_reference"]["ovn"]
    caller = client.authority.headers("uss-m", *SCOPE_SETS[who])
    body = intent(vol, state=after, implicit=True)
    if ovn is None:
        status, out = client.call("PUT", OIR, caller, body, entityid=eid)
    else:
        status, out = client.call("PUT", OIR_OVN, caller, body, entityid=eid, ovn=ovn)
    want = expected(before, after, SCOPE_SETS[who])
    assert status == want, (before, after, who, out)
    if status == 403:
        assert "utm." in out["message"]
    if status in (200, 201):
        assert out["operational_intent_reference"]["state"] == after
    else:  # refused: the reference is as it was
        got = client.call("GET", OIR, both, entityid=eid)
        if before is None:
            assert got[0] == 404
        else:
            assert got[1]["operational_intent_reference"]["state"] == before
            assert got[1]["operational_intent_reference"]["ovn"] == ovn


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("who", ["sc", "cmsa"])
def test_either_role_may_delete_in_any_state(client: Client, state: str, who: str) -> None:
    """The document's delete takes strategic coordination or conformance monitoring."""
    now = time.time()
    vol = circle(LAT, LNG, 300, now + 60, now + 1800)
    both = client.authority.headers("uss-m", SC, CMSA)
    eid = new_id()
    status, out = client.call("PUT", OIR, both, intent(vol, implicit=True), entityid=eid)
    ovn = out["operational_intent_reference"]["ovn"]
    for step in PATH[state]:
        status, out = client.call("PUT", OIR_OVN, both, intent(vol, state=step, implicit=True),
                                  entityid=eid, ovn=ovn)
        ovn = out["operational_intent_reference"]["ovn"]
    status, out = client.call("DELETE", OIR_OVN,
                              client.authority.headers("uss-m", *SCOPE_SETS[who]),
                              entityid=eid, ovn=ovn)
    assert status == 200 and out["operational_intent_reference"]["state"] == state
