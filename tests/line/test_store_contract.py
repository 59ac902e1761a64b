"""One contract for the line's log, run on each backend: a SQLite file, and a PostgreSQL
schema of its own when ``SKYACCORD_PG_URL`` is set (as ``tests/store``; in CI the
PostgreSQL runs must not skip).

Every public method of :class:`~skyaccord.line.store.LineStore` is exercised through two
real nodes (in process, a direct transport, a fake clock) and checked against what is
known independently: the chain recomputed by ``verify_log`` and by hand, sequence
numbers counted, sha256 of refused bytes, and the log read back through the other
door (``read_entries``/``read_meta``)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from typer.testing import CliRunner

from skyaccord.cli import app
from skyaccord.errors import InputError, SequenceError, StoreError
from skyaccord.line import LineStore, Node, cross_check, make_message, verify_log
from skyaccord.line.keys import SigningKey
from skyaccord.line.log import GENESIS, entry_hash, read_entries, read_meta
from skyaccord.line.messages import Message
from skyaccord.protocol import Accord
from tests.line.helpers import Clock, Direct, Pair
from tests.store import conftest as store_fixtures
from tests.store.conftest import fresh_store_url

backend = store_fixtures.backend  # sqlite, and postgres when SKYACCORD_PG_URL is set
runner = CliRunner()
Locate = Callable[[str], str]


@pytest.fixture
def locate(backend: str, tmp_path: Path) -> Iterator[Locate]:
    """``locate(name)``: the location of a fresh, empty log on the test's backend."""
    with ExitStack() as stack:
        def make(name: str) -> str:
            (tmp_path / name).mkdir()
            url = stack.enter_context(fresh_store_url(backend, tmp_path / name))
            if backend == "postgres":  # the line's tables first: a registry keeps off them
                stack.callback(drop_schema, url)
            return url

        yield make


def drop_schema(url: str) -> None:
    import psycopg

    from skyaccord.store.postgres import split_url

    base, schema = split_url(url, "")
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def logs(locate: Locate, keys: dict[str, SigningKey], accord: Accord
         ) -> Iterator[tuple[Pair, str, str]]:
    """Two nodes, us and ru, whose logs live on the test's backend."""
    where = {p: locate(p) for p in ("us", "ru")}
    clock = Clock()
    to_ru, to_us = Direct(), Direct()
    us = Node("us", keys["us"], accord, LineStore(where["us"], "us", keys["us"]),
              {"ru": to_ru}, clock=clock)
    ru = Node("ru", keys["ru"], accord, LineStore(where["ru"], "ru", keys["ru"]),
              {"us": to_us}, clock=clock)
    to_ru.target, to_us.target = ru, us
    yield Pair(us, ru, to_ru, to_us, clock), where["us"], where["ru"]
    us.store.close()
    ru.store.close()


def genuine(keys: dict[str, SigningKey], accord: Accord, seq: int, text: str = "hi",
            msg_id: str | None = None) -> Message:
    return make_message(keys["us"], kind="text", sender="us", recipient="ru", seq=seq,
                        created_at=Clock().t, accord=accord.sha256, body={"text": text},
                        msg_id=msg_id)


def acker(store: LineStore, key: SigningKey, accord: Accord, message: Message
          ) -> Callable[[int, str], Message]:
    def make_ack(pos: int, log_hash: str) -> Message:
        return make_message(key, kind="ack", sender=store.party, recipient=message.sender,
                            seq=0, created_at=Clock().t, accord=accord.sha256,
                            in_reply_to=message.id,
                            body={"digest": message.digest, "received_at": Clock().t,
                                  "log_pos": pos, "log_hash": log_hash})
    return make_ack


# -- the chain, sending, receiving, reading -------------------------------------------

def test_exchange_is_logged_chained_and_read_back(logs: tuple[Pair, str, str]) -> None:
    pair, us_at, ru_at = logs
    us, ru = pair.us, pair.ru
    sent = [us.send("ru", "text", {"text": f"m{i}"}) for i in range(3)]
    req = us.send("ru", "request", {"text": "clear the box", "subject": "box"})
    assert [m.seq for m in [*sent, req]] == [1, 2, 3, 4]
    assert [m.id for m in us.store.pending("ru")] == [m.id for m in [*sent, req]]
    assert [m.id for m in us.store.pending("ru", limit=2)] == [sent[0].id, sent[1].id]
    assert us.store.summary()["outbox_pending"] == 4
    assert us.store.summary()["pending_by_peer"]["ru"]["first_seq"] == 1
    assert us.deliver_once() == 4
    resp = ru.send("us", "response", {"text": "done"}, in_reply_to=req.id)
    assert ru.deliver_once() == 1
    # us: 4 sent + 4 acks received + ru's response received + its ack sent = 10
    assert us.store.last_pos() == 10 and ru.store.last_pos() == 10
    for store, where in ((us.store, us_at), (ru.store, ru_at)):
        entries = store.entries()
        assert [e.pos for e in entries] == list(range(1, 11))
        prev = GENESIS  # the chain recomputed here, by hand
        for e in entries:
            assert e.prev_hash == prev
            assert entry_hash(prev, e.pos, e.direction, e.peer, e.recorded_at,
                              e.message) == e.hash
            prev = e.hash
        assert list(read_entries(where)) == entries  # the other door, read-only
        s = store.summary()
        assert (s["log_entries"], s["head"], s["outbox_pending"]) == (10, prev, 0)
        assert read_meta(where)["head"][:2] == (10, prev)
        report = verify_log(where, pair.us.accord)
        assert report.ok and report.count == 10, report.problems
    assert cross_check(us_at, ru_at) == []
    # find, replies, messages
    assert us.store.find(req.id) == ("sent", req)
    assert ru.store.find(req.id) == ("received", req)
    assert us.store.find("0" * 32) is None
    assert [m.kind for m in us.store.replies(req.id)] == ["ack", "response"]
    assert ru.store.replies(req.id)[1] == resp
    got = ru.store.messages(direction="received", kinds=("text", "request"), peer="us")
    assert [m.id for _, _, _, m in got] == [m.id for m in [*sent, req]]
    assert all(d == "received" and t == Clock().t for _, d, t, _ in got)
    later = ru.store.messages(after=got[1][0])
    assert later[0][0] == got[1][0] + 1 and all(p > got[1][0] for p, *_ in later)
    assert ru.store.messages(peer="tr") == []
    items = us.store.outbox()
    assert [(o.peer, o.seq) for o in items] == [("ru", i) for i in range(1, 5)]
    assert all(o.delivered_at == Clock().t and o.message.sender == "us" for o in items)


def test_record_outgoing_many_and_accord(logs: tuple[Pair, str, str],
                                         accord: Accord) -> None:
    pair, us_at, _ = logs
    store = pair.us.store
    out = pair.us.send_many([("ru", "text", {"text": "a"}), ("tr", "text", {"text": "b"}),
                             ("ru", "text", {"text": "c"})])
    assert [(m.recipient, m.seq) for m in out] == [("ru", 1), ("tr", 1), ("ru", 2)]
    one = store.record_outgoing("tr", lambda seq: make_message(
        pair.us.key, kind="text", sender="us", recipient="tr", seq=seq, created_at=Clock().t,
        accord=accord.sha256, body={"text": "d"}), Clock().t)
    assert one.seq == 2 and store.find(one.id) == ("sent", one)
    # the node recorded its accord when it opened; a second record never replaces it
    store.record_accord(accord.sha256, "{}")
    meta = read_meta(us_at)
    assert meta[f"accord:{accord.sha256}"] == accord.canonical_json()
    assert verify_log(us_at).accords == {accord.sha256: "recorded in the log"}


def test_accept_incoming_exactly_once_in_order(logs: tuple[Pair, str, str],
                                               keys: dict[str, SigningKey],
                                               accord: Accord) -> None:
    pair, _, _ = logs
    store = pair.ru.store
    m1, m2 = genuine(keys, accord, 1), genuine(keys, accord, 2)
    status, ack = store.accept_incoming(m1, acker(store, keys["ru"], accord, m1), 5.0)
    assert status == "accepted" and ack.body["log_pos"] == 1
    assert ack.body["log_hash"] == store.entries()[0].hash
    again = store.accept_incoming(m1, acker(store, keys["ru"], accord, m1), 6.0)
    assert again == ("duplicate", ack)
    other = genuine(keys, accord, 1, text="changed", msg_id=m1.id)
    with pytest.raises(SequenceError, match="other content"):
        store.accept_incoming(other, acker(store, keys["ru"], accord, other), 7.0)
    replay = genuine(keys, accord, 1, text="replay")
    with pytest.raises(SequenceError, match="replay") as r:
        store.accept_incoming(replay, acker(store, keys["ru"], accord, replay), 7.0)
    assert r.value.expected == 2
    m3 = genuine(keys, accord, 3)
    with pytest.raises(SequenceError, match="out of order") as g:
        store.accept_incoming(m3, acker(store, keys["ru"], accord, m3), 7.0)
    assert g.value.expected == 2
    assert store.accept_incoming(m2, acker(store, keys["ru"], accord, m2), 8.0)[0] == (
        "accepted")
    assert [e.msg_id for e in store.entries()][::2] == [m1.id, m2.id]
    assert store.last_pos() == 4  # the refused ones left nothing


def test_gap_incident_then_resolved(logs: tuple[Pair, str, str]) -> None:
    pair, _, _ = logs
    lost = pair.us.send("ru", "text", {"text": "lost"})
    later = pair.us.send("ru", "text", {"text": "later"})
    code, reply = pair.ru.receive(pair.us.envelope(later))
    assert code == 409 and reply["expected"] == 1
    (gap,) = pair.ru.store.gaps()
    assert (gap.kind, gap.peer, gap.stream, gap.expected, gap.got) == (
        "gap", "us", "us->ru", 1, 2)
    assert gap.resolved_at is None and pair.ru.store.incidents(open_only=True) == [gap]
    assert pair.ru.receive(pair.us.envelope(lost))[0] == 200
    (gap,) = pair.ru.store.gaps()
    assert gap.resolved_at == Clock().t and pair.ru.store.incidents(open_only=True) == []
    refused = pair.ru.store.refusals()
    assert [(r.peer, r.msg_id, r.kind) for r in refused] == [("us", later.id, "sequence-conflict")]


def test_incidents_count_while_open_null_safe(logs: tuple[Pair, str, str]) -> None:
    store = logs[0].us.store
    for t in (1.0, 2.0):  # expected/got unknown (NULL): the same incident, counted twice
        store.record_incident("behind", "ru", "us->ru", expected=None, got=None, now=t,
                              detail=f"seen at {t}")
    store.record_incident("behind", "ru", "us->ru", expected=3, got=None, now=3.0,
                          detail="another")
    store.record_incident("rollback", "ru", "ru->us", expected=5, got=2, now=4.0,
                          detail="shrank")
    rows = store.incidents()
    assert [(i.kind, i.expected, i.times, i.first_at, i.last_at) for i in rows] == [
        ("behind", None, 2, 1.0, 2.0), ("behind", 3, 1, 3.0, 3.0),
        ("rollback", 5, 1, 4.0, 4.0)]
    assert rows[0].detail == "seen at 2.0"
    assert [i.kind for i in store.incidents(kind="rollback")] == ["rollback"]
    store.resolve_incidents("behind", "ru", 9.0)
    assert [i.kind for i in store.incidents(open_only=True)] == ["rollback"]
    assert all(i.resolved_at == 9.0 for i in store.incidents(kind="behind"))
    store.record_incident("behind", "ru", "us->ru", expected=None, got=None, now=10.0,
                          detail="again")
    assert len(store.incidents(kind="behind")) == 3  # resolved ones are not reopened


def test_outbox_failures_stuck_and_rewind(logs: tuple[Pair, str, str]) -> None:
    pair, _, _ = logs
    us = pair.us
    pair.to_ru.down = True
    ids = [us.send("ru", "text", {"text": str(i)}).id for i in range(3)]
    assert us.deliver_once() == 0
    us.store.delivery_failed(ids[0], "x" * 900, now=Clock().t + 1)
    (stuck,) = us.store.stuck_outgoing()
    assert stuck[:4] == ("ru", 1, Clock().t, 2)  # failing since the first failure
    assert stuck[4] == "x" * 500  # errors are cut
    pair.to_ru.down = False
    us._backoff.clear()
    assert us.deliver_once() == 3
    assert us.store.stuck_outgoing() == [] and us.store.pending("ru") == []
    assert us.store.outbox()[0].attempts == 3  # two failures and the delivery
    # ru lost seq 2.. (restored from a backup): us queues them again from its log
    assert us.store.rewind("ru", 2, 50.0, "ru said so") == 2
    assert [m.id for m in us.store.pending("ru")] == ids[1:]
    (inc,) = us.store.incidents(kind="resent")
    assert (inc.expected, inc.got, inc.resolved_at) == (2, 4, 50.0)
    assert "2 message(s) queued again" in inc.detail
    assert us.store.rewind("ru", 2, 51.0, "again") == 0  # nothing delivered to rewind
    # a new ack of a message queued again marks it delivered, and is logged once
    first = us.store.replies(ids[1])[0]
    ack = make_message(pair.ru.key, kind="ack", sender="ru", recipient="us", seq=0,
                       created_at=52.0, accord=us.accord.sha256, in_reply_to=ids[1],
                       body=first.body)
    n = us.store.last_pos()
    us.store.record_ack(ack, 52.0)
    us.store.record_ack(ack, 53.0)
    assert us.store.last_pos() == n + 1
    assert [m.id for m in us.store.pending("ru")] == ids[2:]
    assert [m.id for m in us.store.replies(ids[1])] == [first.id, ack.id]
    assert [o.delivered_at for o in us.store.outbox()][1] == 52.0


def test_checkpoints_recorded_and_vouched(logs: tuple[Pair, str, str]) -> None:
    pair, _, _ = logs
    us, ru = pair.us, pair.ru
    assert us.store.last_checkpoint() is None and us.store.activity_after(0) is None
    us.send("ru", "text", {"text": "news"})
    assert us.deliver_once() == 1
    assert us.store.activity_after(0) == Clock().t
    assert ru.store.unvouched_since("us") == Clock().t
    before = us.store.summary()
    pair.clock.t += 700
    (cp,) = us.send_checkpoints()
    assert cp.kind == "checkpoint" and cp.seq == 2
    assert (cp.body["log_count"], cp.body["log_head"]) == (before["log_entries"],
                                                           before["head"])
    assert us.store.last_checkpoint() == (us.store.last_pos(), pair.clock.t)
    assert us.store.activity_after(us.store.last_pos()) is None
    assert us.deliver_once() == 1
    assert ru.store.checkpoints_of("us") == [cp]
    assert ru.store.unvouched_since("us") is None
    (many,) = us.store.record_checkpoints(["ru"], lambda peer, seq, n, head: make_message(
        us.key, kind="checkpoint", sender="us", recipient=peer, seq=seq,
        created_at=pair.clock.t, accord=us.accord.sha256,
        body={"log_count": n, "log_head": head}), pair.clock.t)
    assert many.seq == 3 and many.body["log_count"] == us.store.last_pos() - 1


def test_refusals_bounded_and_hashed(locate: Locate, keys: dict[str, SigningKey]) -> None:
    store = LineStore(locate("us"), "us", keys["us"], max_refusals=5)
    try:
        raws = [f"junk {i}".encode() for i in range(8)]
        for i, raw in enumerate(raws):
            store.refuse(float(i), f"reason {i}" + "!" * 600, raw=raw, source="10.0.0.1",
                         kind="message-refused", suppressed=i % 2)
        store.refuse(8.0, "text body", peer="ru", msg_id="a" * 32, raw="é")
        kept = store.refusals()
        assert [r.at for r in kept] == [4.0, 5.0, 6.0, 7.0, 8.0]
        assert kept[0].reason == "reason 4" + "!" * 492  # cut to 500
        assert kept[0].raw_sha256 == hashlib.sha256(raws[4]).hexdigest()
        assert (kept[0].raw_size, kept[0].source, kept[0].kind) == (6, "10.0.0.1",
                                                                    "message-refused")
        assert (kept[-1].peer, kept[-1].raw_size) == ("ru", 2)  # é is two bytes
        assert kept[-1].raw_sha256 == hashlib.sha256("é".encode()).hexdigest()
        assert [r.at for r in store.refusals(limit=2)] == [7.0, 8.0]
        assert store.refusal_stats() == {"recorded": 5, "dropped": 4, "suppressed": 2}
    finally:
        store.close()


def test_transaction_all_or_nothing_and_write_problem(locate: Locate,
                                                      keys: dict[str, SigningKey]) -> None:
    store = LineStore(locate("us"), "us", keys["us"])
    try:
        assert store.write_problem() is None and store.last_write_failure is None
        with pytest.raises(RuntimeError), store.transaction() as c:
            c.execute("INSERT INTO line_meta VALUES ('k1', 'v')")
            raise RuntimeError("changed my mind")
        with pytest.raises(StoreError, match="write failed"), store.transaction() as c:
            c.execute("INSERT INTO line_meta VALUES ('k2', 'v')")
            c.execute("INSERT INTO line_meta VALUES ('party', 'again')")  # key taken
        meta = read_meta(store.location)
        assert "k1" not in meta and "k2" not in meta and meta["party"] == "us"
        # a real write failed: unhealthy, although a probe would fit
        assert store.last_write_failure is not None
        assert "write failed" in (store.write_problem() or "")
        store.record_incident("gap", "ru", "ru->us", expected=1, got=2, now=1.0, detail="")
        assert store.write_problem() is None  # a real write succeeded again
    finally:
        store.close()


# -- party binding, read-only opening ---------------------------------------------------

def test_bound_to_one_party_and_read_only(locate: Locate,
                                          keys: dict[str, SigningKey]) -> None:
    where = locate("us")
    with LineStore(where, "us", keys["us"]) as store:
        assert not store.readonly and store.party == "us"
        store.refuse(1.0, "r")
    before = (list(read_entries(where)), read_meta(where), _tables(where))
    with pytest.raises(StoreError, match="belongs to party 'us', not 'ru'"):
        LineStore(where, "ru", keys["ru"])
    with pytest.raises(StoreError, match="belongs to party 'us', not 'ru'"):
        LineStore(where, "ru")
    assert (list(read_entries(where)), read_meta(where), _tables(where)) == before
    with LineStore(where, "us") as ro:
        assert ro.readonly and [r.reason for r in ro.refusals()] == ["r"]
        with pytest.raises(StoreError, match="readonly"):
            ro.refuse(2.0, "no")
        with pytest.raises(StoreError, match="readonly"):
            ro.record_incident("gap", "ru", "ru->us", expected=1, got=2, now=1.0,
                               detail="")
    assert (list(read_entries(where)), read_meta(where), _tables(where)) == before


def test_read_only_opening_creates_nothing(locate: Locate) -> None:
    where = locate("nothing")
    # nothing there: the location given is wrong (bad input, exit 2)
    with pytest.raises(InputError, match=r"no such log database|no line log"):
        LineStore(where, "us")
    with pytest.raises(InputError, match=r"no such log database|no line log"):
        verify_log(where)
    r = runner.invoke(app, ["line", "inbox", where])
    assert r.exit_code == 2, r.output
    assert "no such log database" in r.output or "no line log" in r.output
    assert _tables(where) is None  # no file, no schema


def _tables(where: str) -> list[str] | None:
    """The tables at ``where`` (None: no file or no schema), read around the store."""
    if where.startswith("postgresql://"):
        import psycopg

        from skyaccord.store.postgres import split_url

        url, schema = split_url(where, "")
        with psycopg.connect(url) as conn:
            rows = conn.execute("SELECT table_name FROM information_schema.tables WHERE "
                                "table_schema = %s ORDER BY 1", (schema,)).fetchall()
            exists = conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s",
                                  (schema,)).fetchone()
        return None if exists is None else [r[0] for r in rows]
    import sqlite3

    if not Path(where).exists():
        return None
    conn = sqlite3.connect(f"file:{where}?mode=ro", uri=True)
    try:
        return [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY 1")]
    finally:
        conn.close()


# -- the command line reads the log through its backend ---------------------------------

def test_cli_reads_either_backend(logs: tuple[Pair, str, str], files: Path) -> None:
    pair, us_at, ru_at = logs
    req = pair.us.send("ru", "request", {"text": "turn north", "subject": "turn"})
    pair.us.deliver_once()
    r = runner.invoke(app, ["line", "verify", ru_at, "--against", us_at])
    assert r.exit_code == 0, r.output
    assert "2 entries" in r.output and "recorded in the log" in r.output
    r = runner.invoke(app, ["line", "inbox", ru_at, "--json"])
    assert r.exit_code == 0, r.output
    assert '"turn north"' in r.output and req.id in r.output
    r = runner.invoke(app, ["line", "show", us_at, req.id])
    assert r.exit_code == 0 and '"kind": "ack"' in r.output, r.output
    r = runner.invoke(app, ["line", "overdue", ru_at, "--accord", str(files / "accord.toml"),
                            "--now", str(Clock().t + 10_000)])
    assert r.exit_code == 0 and req.id[:8] in r.output, r.output
    # an entry altered behind the store's back: verify says which, exit 1
    _alter_first_entry(ru_at)
    r = runner.invoke(app, ["line", "verify", ru_at])
    assert r.exit_code == 1 and "entry 1: altered" in r.output, r.output


def _alter_first_entry(where: str) -> None:
    sql = "UPDATE line_log SET message = replace(message, 'north', 'south') WHERE pos = 1"
    if where.startswith("postgresql://"):
        import psycopg

        from skyaccord.store.postgres import split_url

        url, schema = split_url(where, "")
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'SET search_path TO "{schema}"')
            conn.execute(sql)
        return
    import sqlite3

    conn = sqlite3.connect(where)
    with conn:
        conn.execute(sql)
    conn.close()


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_postgres_connection_lost_is_opened_again(locate: Locate,
                                                  keys: dict[str, SigningKey],
                                                  accord: Accord) -> None:
    """The server drops the store's session (a restart, an administrator): the next
    read goes on; a write in flight fails whole, and the next one succeeds."""
    import psycopg

    from skyaccord.store.postgres import split_url

    store = LineStore(locate("ru"), "ru", keys["ru"])
    try:
        m1 = genuine(keys, accord, 1)
        store.accept_incoming(m1, acker(store, keys["ru"], accord, m1), 1.0)

        def drop_session() -> None:
            pid = store._conn.info.backend_pid
            with psycopg.connect(split_url(store.location, "")[0], autocommit=True) as c:
                c.execute("SELECT pg_terminate_backend(%s)", (pid,))

        drop_session()
        assert store.summary()["log_entries"] == 2  # read again on a new session
        drop_session()
        m2 = genuine(keys, accord, 2)
        with pytest.raises(StoreError, match="write failed"):
            store.accept_incoming(m2, acker(store, keys["ru"], accord, m2), 2.0)
        assert store.accept_incoming(m2, acker(store, keys["ru"], accord, m2), 3.0)[0] == (
            "accepted")
        assert [e.msg_id for e in store.entries()][::2] == [m1.id, m2.id]
    finally:
        store.close()
