"""A message queued again after a rewind and answered with its original acknowledgement
("duplicate": the peer had it after all) is delivered, not resent for ever.

The defect: ``record_ack`` returned early when the ack's id was already in the log, so
the outbox row stayed pending and the deliverer sent it again at every pass.
"""

from __future__ import annotations

from tests.line.helpers import Clock, Pair
from tests.line.test_store_contract import backend, locate, logs

_ = (backend, locate, logs)


def test_original_ack_after_rewind_marks_the_message_delivered(
        logs: tuple[Pair, str, str]) -> None:
    pair, _, _ = logs
    us, ru = pair.us, pair.ru
    ids = [us.send("ru", "text", {"text": str(i)}).id for i in range(2)]
    assert us.deliver_once() == 2
    acks = [us.store.replies(i)[0] for i in ids]
    n = us.store.last_pos()
    # us is told (wrongly, or after a restore that kept them) that ru lost seq 1..
    assert us.store.rewind("ru", 1, Clock().t + 1, "ru said so") == 2
    assert [m.id for m in us.store.pending("ru")] == ids
    # ru still has them: it answers each with its original acknowledgement
    assert us.deliver_once() == 2
    assert us.store.pending("ru") == []
    assert all(o.delivered_at is not None for o in us.store.outbox())
    assert [[r.id for r in us.store.replies(i)] for i in ids] == [[a.id] for a in acks]
    assert us.store.last_pos() == n  # nothing logged twice
    # ru noted the replays and answered each with the ack it had logged
    assert [r.reason.endswith("answered with the original acknowledgement")
            for r in ru.store.refusals()] == [True, True]
    assert us.deliver_once() == 0  # and nothing sent again
