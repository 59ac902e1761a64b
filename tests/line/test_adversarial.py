"""The line against a hostile network, peer and operator — one test per
finding, real node processes on loopback where the finding is about a running node,
the Node/LineStore API otherwise. The threat model in src/skyaccord/line/README.md
names the test that shows each defence."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from skyaccord.errors import StoreError
from skyaccord.line import LineStore, make_message
from skyaccord.line.keys import SigningKey, sign
from skyaccord.line.messages import Message
from skyaccord.line.node import transmit_bytes
from skyaccord.line.peer import envelope_bytes
from skyaccord.protocol import Accord, load_accord
from tests.line.helpers import Pair, rewrite_without
from tests.line.test_processes import Nodes


@pytest.fixture
def nodes(files: Path) -> Iterator[Nodes]:
    n = Nodes(files, ("us", "ru"))
    yield n
    n.stop_all()


@pytest.fixture
def ru_alone(files: Path) -> Iterator[Nodes]:
    """ru's node running alone (us's node is not started: the tests play us)."""
    n = Nodes(files, ("us", "ru"))
    n.start("ru")
    yield n
    n.stop_all()


def envelope(key: SigningKey, message: Message, at: float | None = None) -> dict[str, Any]:
    t = time.time() if at is None else at
    return {"message": message.to_dict(), "transmitted_at": t,
            "transmit_sig": sign(key, transmit_bytes(message.id, message.recipient, t))}


def genuine(keys: dict[str, SigningKey], accord: Accord, seq: int = 1, kind: str = "text",
            body: dict[str, Any] | None = None, sender: str = "us", to: str = "ru",
            created_at: float | None = None, **extra: Any) -> Message:
    return make_message(keys[sender], kind=kind, sender=sender, recipient=to, seq=seq,
                        created_at=time.time() if created_at is None else created_at,
                        accord=accord.sha256, body=body or {"text": "genuine"}, **extra)


def post(nodes: Nodes, raw: bytes, party: str = "ru") -> Any:
    return nodes.client.post(nodes.url(party) + "/line/messages", content=raw,
                             headers={"content-type": "application/json"})


def stored(nodes: Nodes, party: str = "ru") -> LineStore:
    """The node's log, opened beside the running node to read its state."""
    return LineStore(nodes.db(party), party)


# -- 10. every bad envelope: a 4xx and a recorded refusal, never a 500 ---------------------

def test_10_nan_deep_nesting_huge_ints_get_4xx_and_are_recorded(
        ru_alone: Nodes, keys: dict[str, SigningKey]) -> None:
    accord = load_accord(ru_alone.root / "accord.toml")
    good = envelope_bytes(envelope(keys["us"], genuine(keys, accord)))
    nan = good.replace(b'"transmitted_at":', b'"transmitted_at":NaN,"x":', 1)
    bodies = {
        "NaN transmitted_at": nan,
        "deep nesting": b'{"message":' + b"[" * 50_000 + b"]" * 50_000 + b"}",
        "deep but small": b'{"message":' + b"[" * 2_000 + b"]" * 2_000 + b"}",
        "huge integer": good.replace(b'"seq":1', b'"seq":' + b"9" * 4000, 1),
        "integer past 2**53": good.replace(b'"seq":1', b'"seq":' + str(2**63).encode(), 1),
        "infinity": good.replace(b'"seq":1', b'"seq":Infinity', 1),
        "not UTF-8": b'{"message":"\xff"}',
        "not JSON": b"not json",
        "empty": b"",
    }
    for name, raw in bodies.items():
        r = post(ru_alone, raw)
        assert 400 <= r.status_code < 500, (name, r.status_code, r.text)
        assert r.headers["content-type"].startswith("application/"), name
        assert r.json()["error"], name
    with stored(ru_alone) as store:
        assert len(store.refusals()) == len(bodies)
        assert store.messages() == []
    assert post(ru_alone, good).status_code == 200  # the node still works


def test_10_receive_survives_any_python_value(pair: Pair) -> None:
    """The API under the HTTP layer: Node.receive on values no JSON parser makes."""
    env = pair.us.envelope(pair.us.send("ru", "text", {"text": "x"}))
    deep: Any = []
    for _ in range(100_000):
        deep = [deep]
    values: list[Any] = [
        None, 1, "x", [1], deep, {"message": deep, "transmitted_at": 1.0, "transmit_sig": ""},
        {**env, "transmitted_at": float("nan")}, {**env, "transmitted_at": float("inf")},
        {**env, "transmitted_at": 10**400}, {**env, "transmit_sig": deep},
        {**env, "message": {**env["message"], "seq": 10**400}},
        {**env, "message": {**env["message"], "created_at": 10**400}},
        {**env, "message": {**env["message"], "body": {"text": deep}}},
        {**env, "message": {**env["message"], 1: "x"}},
        {**env, "message": {**env["message"], "kind": deep}},
    ]
    for v in values:
        code, reply = pair.ru.receive(v)
        assert 400 <= code < 500 and reply["error"], reply
    assert pair.ru.internal_errors == 0
    assert pair.ru.receive(env)[0] == 200


# -- 11. what was signed is what every parser reads ----------------------------------------

def test_11_duplicate_keys_and_other_spellings_refused_over_http(
        ru_alone: Nodes, keys: dict[str, SigningKey]) -> None:
    accord = load_accord(ru_alone.root / "accord.toml")
    good = envelope_bytes(envelope(keys["us"], genuine(keys, accord)))
    twice = good.replace(b'"body":{"text":"genuine"}',
                         b'"body":{"text":"genuine","text":"evil"}', 1)
    assert twice != good
    r = post(ru_alone, twice)
    assert r.status_code == 400 and "appears twice" in r.json()["error"]
    spaced = good.replace(b'","', b'", "')  # the same JSON value, other bytes
    r = post(ru_alone, spaced)
    assert r.status_code == 400 and "canonical" in r.json()["error"]
    escaped = good.replace(b'"genuine"', b'"genuin\\u0065"', 1)
    assert post(ru_alone, escaped).status_code == 400
    with stored(ru_alone) as store:
        assert store.messages() == []
        assert len(store.refusals()) == 3
    r = post(ru_alone, good)
    assert r.status_code == 200 and r.json()["status"] == "accepted"


# -- 4. anonymous clients cannot fill the disk ----------------------------------------------

def db_bytes(db: Path) -> int:
    return sum(p.stat().st_size for p in db.parent.glob(db.name + "*"))


def test_4_junk_flood_is_bounded_on_disk(ru_alone: Nodes) -> None:
    before = db_bytes(ru_alone.db("ru"))
    junk = b'{"message":"' + b"x" * 60_000 + b'"}'
    t0 = time.monotonic()
    codes = {post(ru_alone, junk).status_code for _ in range(300)}
    elapsed = time.monotonic() - t0
    assert codes == {400}
    grown = db_bytes(ru_alone.db("ru")) - before
    assert grown < 1_000_000, grown  # was 22 MB: 64 KiB of each body kept
    with stored(ru_alone) as store:
        rows = store.refusals()
        stats = store.refusal_stats()
    # the burst, then about one a second from this address
    assert 20 <= len(rows) <= 20 + elapsed * 1.0 + 2, (len(rows), elapsed)
    assert stats["recorded"] + stats["suppressed"] <= 300
    # every refusal is stored or counted: the node's health has the count of those not
    # stored, and the rows carry those counted before each of them (the burst's are
    # carried by the next row stored, which may not have come yet on a fast machine)
    not_stored = ru_alone.get("ru", "/health")["line"]["refusals_suppressed"]
    assert len(rows) + not_stored == 300
    assert 0 <= stats["suppressed"] <= not_stored
    r = rows[-1]
    assert r.raw_size == len(junk) and r.raw_sha256 is not None and len(r.raw_sha256) == 64
    assert r.source == "127.0.0.1" and r.peer is None  # nobody authenticated
    assert len(r.reason) <= 500


def test_4_refusal_retention_and_rate(pair: Pair, keys: dict[str, SigningKey]) -> None:
    from skyaccord.line.node import RefusalLimiter
    from tests.line.helpers import Clock

    fake = Clock(0.0)
    pair.ru.refusal_limiter = RefusalLimiter(rate_per_s=1.0, burst=5, clock=fake)
    pair.ru.store.max_refusals = 30
    for _ in range(50):  # one source: 5 at once, then one a second
        assert pair.ru.receive(None, source="10.0.0.1")[0] == 400
    assert len(pair.ru.store.refusals()) == 5
    fake.t += 3.0
    pair.ru.receive(None, source="10.0.0.1")
    assert pair.ru.store.refusals()[-1].suppressed == 45  # counted, not stored
    for i in range(200):  # many sources: the total rate caps them, retention the rows
        fake.t += 0.2
        pair.ru.receive([i], source=f"10.1.{i // 250}.{i % 250}")
    stats = pair.ru.store.refusal_stats()
    assert stats["recorded"] == 30 and stats["dropped"] > 0
    # a refusal names the sender only when its signatures verified
    env = pair.us.envelope(pair.us.send("ru", "text", {"text": "genuine"}))
    env["message"]["body"]["text"] = "altered"
    fake.t += 100.0
    assert pair.ru.receive(env, source="10.9.9.9")[0] == 403
    assert pair.ru.store.refusals()[-1].peer is None
    env = pair.us.envelope(pair.us.send("ru", "text", {"text": "genuine"}))
    pair.ru.accord = dataclasses.replace(pair.ru.accord, response_deadline_s=1.0)
    assert pair.ru.receive(env, source="10.9.9.9")[0] == 409  # other accord, signed by us
    assert pair.ru.store.refusals()[-1].peer == "us"


# -- 8. a full disk: JSON answers, counted refusals, health shows it -----------------------

def test_8_disk_full_node_answers_and_health_shows_it(
        ru_alone: Nodes, keys: dict[str, SigningKey]) -> None:
    import resource

    accord = load_accord(ru_alone.root / "accord.toml")
    pid = ru_alone.procs["ru"].pid
    wal = ru_alone.db("ru").with_name("ru.db-wal")
    limit = max(wal.stat().st_size if wal.exists() else 0, 1) + 40_000
    hard = resource.prlimit(pid, resource.RLIMIT_FSIZE)[1]
    resource.prlimit(pid, resource.RLIMIT_FSIZE, (limit, hard))  # the disk is now full
    seq, codes = 1, []
    for _ in range(40):
        env = envelope(keys["us"], genuine(keys, accord, seq=seq))
        r = post(ru_alone, envelope_bytes(env))
        codes.append(r.status_code)
        assert r.headers["content-type"].startswith("application/"), r.text
        assert r.json()["error" if r.status_code >= 400 else "status"]
        if r.status_code == 200:
            seq += 1
        else:
            break
    assert codes[-1] == 503, codes  # the store could not write: not a 500, not a crash
    for raw in (b"junk", b"{}", envelope_bytes(env)):  # refusals fail to be written too
        r = post(ru_alone, raw)
        assert r.status_code in (400, 503) and r.json()["error"], r.text
    health = ru_alone.client.get(ru_alone.url("ru") + "/health", headers=ru_alone.auth("ru"))
    assert health.status_code == 503 and health.json()["writable"] is False
    assert ru_alone.procs["ru"].poll() is None  # still running
    resource.prlimit(pid, resource.RLIMIT_FSIZE, (hard, hard))  # space again
    env = envelope(keys["us"], genuine(keys, accord, seq=seq))
    assert post(ru_alone, envelope_bytes(env)).status_code == 200  # the stream goes on
    assert ru_alone.client.get(ru_alone.url("ru") + "/health",
                               headers=ru_alone.auth("ru")).status_code == 200


def test_8_store_write_failure_is_counted_not_raised(pair: Pair) -> None:
    from skyaccord.line.node import RefusalLimiter

    pair.ru.refusal_limiter = RefusalLimiter(rate_per_s=1e9, burst=10**9,
                                             total_rate_per_s=1e9, total_burst=10**9)
    assert pair.ru.writable() and pair.ru.health()["write_problem"] is None
    pages = pair.ru.store._conn.execute("PRAGMA page_count").fetchone()[0]
    pair.ru.store._conn.execute(f"PRAGMA max_page_count = {pages}")  # no room to grow
    codes = []
    for i in range(200):
        env = pair.us.envelope(pair.us.send("ru", "text", {"text": f"{i}" * 3000}))
        codes.append(pair.ru.receive(env)[0])
        if codes[-1] != 200:
            break
    assert codes[-1] == 503, codes  # StoreError: 503 with a JSON reason, not raised
    for _ in range(2000):
        if pair.ru.refusal_write_failures:
            break
        assert pair.ru.receive(["x" * 400])[0] == 400
    assert pair.ru.refusal_write_failures > 0
    assert not pair.ru.writable()
    assert "full" in (pair.ru.health()["write_problem"] or "")
    pair.ru.store._conn.execute("PRAGMA max_page_count = 1000000")
    assert not pair.ru.writable()  # a small probe fits: the failed write still counts...
    assert pair.ru.receive(env)[0] == 200
    assert pair.ru.writable()  # ...until a real write succeeds


# -- 14. health reads a summary whose cost does not grow with the log ----------------------

def test_14_summary_is_constant_time(pair: Pair) -> None:
    def steps(store: LineStore) -> tuple[int, dict[str, Any]]:
        count = [0]

        def tick() -> int:
            count[0] += 1
            return 0

        store._conn.set_progress_handler(tick, 1)  # one call per SQLite VM instruction
        try:
            out = store.summary()
        finally:
            store._conn.set_progress_handler(None, 1)
        return count[0], out

    pair.to_ru.down = True
    for i in range(10):
        pair.us.send("ru", "text", {"text": str(i)})
    pair.to_ru.down = False
    pair.us.deliver_once()
    pair.to_ru.down = True
    pair.us.send("ru", "text", {"text": "pending"})
    small, summary = steps(pair.us.store)
    entries = pair.us.store.entries()
    assert summary["log_entries"] == len(entries) == 21
    assert summary["head"] == entries[-1].hash
    assert summary["outbox_pending"] == 1 and summary["pending_by_peer"]["ru"]["count"] == 1
    for i in range(400):
        pair.us.send("tr", "text", {"text": str(i)})
    pair.us.store._conn.execute("UPDATE line_outbox SET delivered_at = 1 WHERE peer = 'tr'")
    large, summary = steps(pair.us.store)
    assert summary["log_entries"] == 421 and summary["outbox_pending"] == 1
    assert large == small  # 20x the log, the same work


# -- 5. only the party asked can settle a request or stand by -------------------------------

def test_5_third_party_cannot_settle_or_stand_by(tmp_path: Path, keys: dict[str, SigningKey],
                                                 accord: Accord) -> None:
    from skyaccord.errors import MessageRefused
    from skyaccord.line import Node, debts, store_debts
    from tests.line.helpers import T0, Clock, Direct

    clock = Clock()
    nodes = {p: Node(p, keys[p], accord, LineStore(tmp_path / f"{p}.db", p, keys[p]),
                     clock=clock) for p in ("us", "ru", "tr")}
    for a, node in nodes.items():
        for b, other in nodes.items():
            if a != b:
                node.peers[b] = Direct()
                node.peers[b].target = other  # type: ignore[attr-defined]
    us, ru, tr = nodes["us"], nodes["ru"], nodes["tr"]
    req = us.send("ru", "request", {"text": "leave box 7"})
    us.deliver_once()
    deadline = accord.response_deadline_s
    # tr answers us's request to ru: refused on receipt, with the reason
    forged = make_message(keys["tr"], kind="response", sender="tr", recipient="us", seq=1,
                          created_at=clock(), accord=accord.sha256, in_reply_to=req.id,
                          body={"text": "done", "decision": "accept"})
    code, reply = us.receive(envelope(keys["tr"], forged, clock()))
    assert code == 400 and "only 'ru' may answer it" in reply["error"], reply
    standby = make_message(keys["tr"], kind="response", sender="tr", recipient="us", seq=1,
                           created_at=clock(), accord=accord.sha256, in_reply_to=req.id,
                           body={"text": "wait", "decision": "standby"})
    assert us.receive(envelope(keys["tr"], standby, clock()))[0] == 400
    (d,) = store_debts(us.store, deadline, T0 + deadline + 1.0)
    assert (d.debtor, d.level) == ("ru", "overdue")  # still owed by ru
    # tr's own node will not even send it: tr never received that request
    with pytest.raises(MessageRefused, match="must answer a message received from 'us'"):
        tr.send("us", "response", {"text": "done"}, in_reply_to=req.id)
    # a log that already holds such a response (before this check): ignored for the debt
    assert [x.msg_id for x in debts([req, forged], T0 + deadline + 1.0, deadline)] == [req.id]
    # ru, the party asked, settles it
    ru.send("us", "response", {"text": "done", "decision": "accept"}, in_reply_to=req.id)
    ru.deliver_once()
    assert store_debts(us.store, deadline, T0 + 10_000.0) == []
    for node in nodes.values():
        node.store.close()


# -- 6. the accord and the receiver's clock set deadlines, not the sender ------------------

def test_6_sender_cannot_choose_deadlines(pair: Pair, keys: dict[str, SigningKey]) -> None:
    from skyaccord.line import store_debts
    from tests.line.helpers import T0

    deadline = pair.ru.accord.response_deadline_s
    now = pair.clock()

    def request(seq: int, created: float, due: float) -> tuple[int, dict[str, Any]]:
        m = make_message(keys["tr"], kind="request", sender="tr", recipient="ru", seq=seq,
                         created_at=created, accord=pair.ru.accord.sha256,
                         body={"text": "q"}, due_at=due)
        return pair.ru.receive(envelope(keys["tr"], m, now))

    # created 5000 s ago, due 1 s later: straight to command level before the fix
    code, reply = request(1, now - 5000.0, now - 4999.0)
    assert code == 400 and "response_deadline_s" in reply["error"], reply
    # created in the year 5107
    code, reply = request(1, 98_000_000_000.0, 98_000_000_000.0 + deadline)
    assert code == 400 and "future" in reply["error"], reply
    # within the skew window is fine; beyond it is not
    assert request(1, now + 25.0, now + 25.0 + deadline)[0] == 200
    assert request(2, now + 40.0, now + 40.0 + deadline)[0] == 400
    assert store_debts(pair.ru.store, deadline, now + 10.0) != []
    # a genuine request queued through an outage: old, accepted, not yet overdue
    pair.to_ru.down = True
    old = pair.us.send("ru", "request", {"text": "queued for an hour"})
    pair.us.deliver_once()
    pair.clock.t += 3600.0
    pair.to_ru.down = False
    pair.us._backoff.clear()
    assert pair.us.deliver_once() == 1
    received = pair.clock()
    for store in (pair.us.store, pair.ru.store):  # both logs agree on the due time
        d = next(d for d in store_debts(store, deadline, received + 1.0) if d.msg_id == old.id)
        assert d.due_at == received + deadline and d.level == "pending"
        assert old.due_at == T0 + deadline  # what the sender signed, an hour earlier


# -- 12. key files and logs are the owner's alone -------------------------------------------

def test_12_keys_and_logs_owner_only(tmp_path: Path, keys: dict[str, SigningKey]) -> None:
    import os
    import stat

    from typer.testing import CliRunner

    from skyaccord.cli import app
    from skyaccord.errors import LineError
    from skyaccord.line import load_key, public_key_b64

    runner = CliRunner()

    def mode(p: Path) -> int:
        return stat.S_IMODE(os.lstat(p).st_mode)

    old = tmp_path / "us.key"
    old.write_text("old\n")
    old.chmod(0o644)
    r = runner.invoke(app, ["keys", "new", "--out", str(old), "--force"])
    assert r.exit_code == 0, r.output
    assert mode(old) == 0o600  # was kept at 0644
    assert public_key_b64(load_key(old)) == r.output.strip().splitlines()[-1]
    # --force over a symlink replaces the link, never writes through it
    target = tmp_path / "elsewhere.txt"
    target.write_text("not a key\n")
    target.chmod(0o644)
    link = tmp_path / "ru.key"
    link.symlink_to(target)
    assert runner.invoke(app, ["keys", "new", "--out", str(link), "--force"]).exit_code == 0
    assert target.read_text() == "not a key\n" and mode(target) == 0o644
    assert not link.is_symlink() and mode(link) == 0o600
    # without --force nothing existing is touched, a dangling symlink included
    dangling = tmp_path / "tr.key"
    dangling.symlink_to(tmp_path / "nowhere")
    r = runner.invoke(app, ["keys", "new", "--out", str(dangling)])
    assert r.exit_code == 2 and "exists" in r.output
    assert not (tmp_path / "nowhere").exists()
    # loading refuses a key that group or others can read, and says how to fix it
    old.chmod(0o640)
    with pytest.raises(LineError, match=r"us\.key: key file is open to group or others "
                                        r"\(mode 0640\); run: chmod 600 "):
        load_key(old)
    old.chmod(0o600)
    load_key(old)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    # a new log and its WAL files: owner only
    store = LineStore(tmp_path / "us.db", "us", keys["us"])
    store.refuse(0.0, "x")
    for p in tmp_path.glob("us.db*"):
        assert mode(p) == 0o600, (p, oct(mode(p)))
    store.close()


# -- 13. reading a log never writes, so it works from read-only media ----------------------

def test_13_verify_and_inbox_on_read_only_media(pair: Pair, files: Path, tmp_path: Path
                                                ) -> None:
    import hashlib
    import shutil
    import subprocess
    import sys

    for i in range(3):
        pair.us.send("ru", "text", {"text": f"m{i}"})
    pair.us.deliver_once()
    pair.us.store.close()
    pair.ru.store.close()  # the WAL is folded into the file: the copy is the file alone
    media = tmp_path / "media"
    media.mkdir()
    shutil.copy(pair.ru.store.path, media / "ru.db")
    shutil.copy(files / "accord.toml", media / "accord.toml")
    digest = hashlib.sha256((media / "ru.db").read_bytes()).hexdigest()
    py = sys.executable
    script = (f"mount --bind {media} {media} && mount -o remount,bind,ro {media} && "
              f"{py} -m skyaccord line verify {media}/ru.db --accord {media}/accord.toml && "
              f"{py} -m skyaccord line inbox {media}/ru.db --json && "
              f"(touch {media}/probe 2>/dev/null && echo WRITABLE || echo READ-ONLY)")
    try:
        r = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True,
                           text=True, timeout=120)
    except FileNotFoundError:
        pytest.skip("unshare(1) is not installed")
    if "mount" in r.stderr and ("denied" in r.stderr or "not permitted" in r.stderr
                                or "unshare failed" in r.stderr):
        pytest.skip(f"cannot mount a read-only view here: {r.stderr.strip()[:200]}")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "READ-ONLY" in r.stdout  # the media really was read-only
    assert "ok " in r.stdout and r.stdout.count('"kind": "text"') == 3
    # and in process: a keyless store reads without touching the file
    with LineStore(media / "ru.db", "ru") as store:
        assert len(store.messages(kinds=("text",))) == 3 and store.readonly
        with pytest.raises(StoreError, match="readonly"):
            store.refuse(0.0, "no")
    assert hashlib.sha256((media / "ru.db").read_bytes()).hexdigest() == digest


# -- 9. verify always checks signatures, and says with which keys --------------------------

def test_9_verify_without_accord_checks_signatures(pair: Pair, files: Path) -> None:
    import sqlite3

    from typer.testing import CliRunner

    from skyaccord.cli import app
    from tests.line.test_log import filled, rechain

    runner = CliRunner()
    us_db, _ = filled(pair)
    pair.us.store.close()
    r = runner.invoke(app, ["line", "verify", str(us_db)])
    assert r.exit_code == 0, r.output
    assert "17 signatures verified" in r.output and "(recorded in the log)" in r.output
    assert "compare that sha256 with your copy" in r.output
    r = runner.invoke(app, ["line", "verify", str(us_db), "--accord",
                            str(files / "accord.toml")])
    assert r.exit_code == 0 and "(given)" in r.output and "compare" not in r.output
    # altered and re-chained without any key: was "ok" without --accord
    conn = sqlite3.connect(us_db)
    with conn:
        conn.execute("UPDATE line_log SET message = replace(message, 'ru asks 1', "
                     "'ru agrees') WHERE message LIKE '%ru asks 1%'")
    conn.close()
    rechain(us_db)
    r = runner.invoke(app, ["line", "verify", str(us_db)])
    assert r.exit_code == 1 and "bad signature from party 'ru'" in r.output
    assert "log head of 'us'" in r.output
    # a log without a recorded accord is not verified at all without --accord
    conn = sqlite3.connect(us_db)
    with conn:
        conn.execute("DELETE FROM line_meta WHERE key LIKE 'accord:%'")
    conn.close()
    r = runner.invoke(app, ["line", "verify", str(us_db)])
    assert r.exit_code == 2 and "no accord recorded" in r.output
    # replacing the recorded accord is caught by its hash
    conn = sqlite3.connect(us_db)
    with conn:
        conn.execute("INSERT INTO line_meta VALUES (?, ?)",
                     (f"accord:{pair.us.accord.sha256}",
                      pair.us.accord.canonical_json().replace('"us"', '"xx"', 1)))
    conn.close()
    r = runner.invoke(app, ["line", "verify", str(us_db)])
    assert r.exit_code != 0 and ("altered" in r.output or "unreadable" in r.output), r.output


# -- 7. a receiver that lost messages gets them again; a stream that cannot go on alerts ---

def backup(db: Path, to: Path) -> None:
    """A consistent copy of a live log (SQLite's online backup), as an operator makes."""
    import sqlite3

    from skyaccord.line.log import open_readonly

    src, dst = open_readonly(db), sqlite3.connect(to)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()


def restore(backup_file: Path, db: Path) -> None:
    import shutil

    for p in db.parent.glob(db.name + "-*"):
        p.unlink()
    shutil.copy(backup_file, db)


def test_7_receiver_restored_from_backup_gets_lost_messages_again(nodes: Nodes) -> None:
    from skyaccord.line import cross_check, verify_log

    nodes.start("us")
    nodes.start("ru")
    sent = [nodes.send("us", "ru", f"before backup {i}") for i in range(2)]
    nodes.drain()
    backup(nodes.db("ru"), nodes.root / "ru-backup.db")
    sent += [nodes.send("us", "ru", f"after backup {i}") for i in range(3)]  # seq 3..5
    nodes.drain()
    nodes.kill("ru")
    restore(nodes.root / "ru-backup.db", nodes.db("ru"))  # ru lost seq 3..5
    nodes.start("ru")
    sent.append(nodes.send("us", "ru", "after restore"))  # seq 6: "expected 3"
    nodes.drain()
    with stored(nodes, "ru") as ru:
        inbox = [m for _, _, _, m in ru.messages(direction="received") if m.kind == "text"]
        (gap,) = ru.gaps()
    assert [m.id for m in inbox] == sent and [m.seq for m in inbox] == [1, 2, 3, 4, 5, 6]
    assert (gap.expected, gap.got, gap.stream) == (3, 6, "us->ru")
    assert gap.resolved_at is not None  # filled: shown, not silent
    with stored(nodes, "us") as us:
        (resent,) = us.incidents(kind="resent")
    assert (resent.expected, resent.got) == (3, 6) and "3 message(s) queued again" in (
        resent.detail)
    nodes.stop_all()
    assert verify_log(nodes.db("ru")).ok  # alone, the restored log is sound...
    problems = cross_check(nodes.db("us"), nodes.db("ru"))  # ...but it was rolled back
    assert any("contradicts its own signed acknowledgement" in p for p in problems)


def test_7_sender_behind_its_peer_is_listed_as_stuck(pair: Pair, tmp_path: Path) -> None:
    from skyaccord.line import Node
    from skyaccord.line.node import STUCK_AFTER_ATTEMPTS

    for i in range(2):
        pair.us.send("ru", "text", {"text": f"{i}"})
    pair.us.deliver_once()
    backup(pair.us.store.path, tmp_path / "us-backup.db")
    for i in range(3):
        pair.us.send("ru", "text", {"text": f"later {i}"})
    pair.us.deliver_once()
    pair.us.store.close()
    restore(tmp_path / "us-backup.db", pair.us.store.path)  # us forgot seq 3..5
    us = Node("us", pair.us.key, pair.us.accord,
              LineStore(pair.us.store.path, "us", pair.us.key), pair.us.peers,
              clock=pair.clock)
    m = us.send("ru", "text", {"text": "seq 3 again, other content"})
    assert m.seq == 3
    for _ in range(STUCK_AFTER_ATTEMPTS):
        us._backoff.clear()
        assert us.deliver_once() == 0
    stuck = us.stuck_streams()
    assert len(stuck) == 2
    (behind,) = [s for s in stuck if str(s["reason"]).startswith("behind")]
    (stuck_out,) = [s for s in stuck if s is not behind]
    assert behind["reason"].startswith("behind: ru has us->ru up to seq 5")
    assert stuck_out["attempts"] == STUCK_AFTER_ATTEMPTS and stuck_out["seq"] == 3
    assert "replay: us seq 3" in stuck_out["reason"] and stuck_out["since"] == pair.clock()
    us.store.close()


# -- checkpoints: a party's signed log heads, kept by the other ----------------------------

def queue_checkpoint(nodes: Nodes, party: str, key: SigningKey, to: str) -> Message:
    """Queue a checkpoint in the running node's outbox, as its tick loop would."""
    from skyaccord.line import Node

    accord = load_accord(nodes.root / "accord.toml")
    with LineStore(nodes.db(party), party, key) as store:
        (m,) = Node(party, key, accord, store).send_checkpoints([to])
    return m


def test_checkpoints_catch_a_rewritten_log_without_its_database(
        nodes: Nodes, keys: dict[str, SigningKey]) -> None:
    from typer.testing import CliRunner

    from skyaccord.cli import app
    from skyaccord.line import verify_log

    nodes.start("us")
    nodes.start("ru")
    asked = [nodes.send("ru", "us", f"request {i}", kind="request") for i in range(2)]
    nodes.send("us", "ru", "hello")
    nodes.drain()
    first = queue_checkpoint(nodes, "us", keys["us"], "ru")
    nodes.drain()
    with stored(nodes, "ru") as ru:
        assert [c.id for c in ru.checkpoints_of("us")] == [first.id]  # ru keeps it
    nodes.kill("us")
    # us drops ru's last request (and its ack) and rebuilds its chain with its own key
    with stored(nodes, "us") as us:
        ack = next(m for _, _, _, m in us.messages(kinds=("ack",), direction="sent")
                   if m.in_reply_to == asked[-1])
    rewrite_without(nodes.db("us"), keys["us"], "us", {asked[-1], ack.id})
    assert verify_log(nodes.db("us")).ok  # alone, the rewritten log looks sound
    nodes.start("us")
    second = queue_checkpoint(nodes, "us", keys["us"], "ru")
    nodes.drain()
    # ru sees it on receipt, from what us signed, without us's database
    with stored(nodes, "ru") as ru:
        (rollback,) = ru.incidents(kind="rollback")
    assert rollback.peer == "us" and second.id in rollback.detail
    assert first.id in rollback.detail and "rolled back or rewritten" in rollback.detail
    nodes.stop_all()
    r = CliRunner().invoke(app, ["line", "verify", str(nodes.db("us")), "--against",
                                 str(nodes.db("ru"))])
    assert r.exit_code == 1
    assert f"us's log contradicts its signed checkpoint {first.id}" in r.output, r.output


def test_checkpoints_due_and_rollback_by_count(pair: Pair) -> None:
    assert not pair.us.checkpoint_due()  # nothing to vouch for yet
    pair.us.send("ru", "text", {"text": "x"})
    assert not pair.us.checkpoint_due()  # news, but not an interval old
    pair.clock.t += pair.us.checkpoint_interval_s
    assert pair.us.checkpoint_due()
    (cp,) = pair.us.send_checkpoints()
    assert cp.kind == "checkpoint" and cp.body["log_count"] == 1
    pair.us.deliver_once()
    assert not pair.us.checkpoint_due()  # only the checkpoint and acks since
    pair.us.send("ru", "text", {"text": "y"})
    assert not pair.us.checkpoint_due()  # news, but within the interval
    pair.clock.t += pair.us.checkpoint_interval_s
    assert pair.us.checkpoint_due()
    # a checkpoint that claims fewer entries than us signed before: a rollback
    forged_count = make_message(pair.us.key, kind="checkpoint", sender="us", recipient="ru",
                                seq=4, created_at=pair.clock(), accord=pair.us.accord.sha256,
                                body={"log_count": 0, "log_head": "0" * 64})
    pair.us.deliver_once()
    assert pair.ru.receive(envelope(pair.us.key, forged_count, pair.clock()))[0] == 200
    (inc,) = pair.ru.store.incidents(kind="rollback")
    assert (inc.expected, inc.got) == (1, 0)  # it had signed 1 entry, now 0
    assert any(s["reason"].startswith("rollback") for s in pair.ru.stuck_streams())


def test_6_ack_cannot_claim_receipt_in_the_senders_future(pair: Pair) -> None:
    m = pair.us.send("ru", "text", {"text": "x"})

    class Liar:
        def deliver(self, envelope: Any) -> tuple[int, Any]:
            ack = make_message(pair.ru.key, kind="ack", sender="ru", recipient="us", seq=0,
                               created_at=pair.clock(), accord=pair.us.accord.sha256,
                               in_reply_to=m.id,
                               body={"digest": m.digest, "received_at": pair.clock() + 3600})
            return 200, {"status": "accepted", "ack": ack.to_dict()}

        def close(self) -> None:
            pass

    pair.us.peers["ru"] = Liar()
    assert pair.us.deliver_once() == 0
    assert "received in this node's future" in (pair.us.store.outbox()[0].last_error or "")


def test_checkpoints_sent_by_the_deliverer_and_missing_ones_alert(pair: Pair) -> None:
    from skyaccord.line import Deliverer

    pair.ru.send("us", "text", {"text": "from ru"})
    pair.ru.deliver_once()
    assert pair.us.stuck_streams() == []
    pair.clock.t += 3 * pair.us.checkpoint_interval_s + 1.0
    (overdue,) = pair.us.stuck_streams()
    assert overdue["peer"] == "ru" and overdue["reason"].startswith("checkpoint overdue")
    deliverer = Deliverer(pair.ru, poll_s=0.01, checkpoint_check_s=0.0)  # ru's serving node
    deliverer.start()
    try:
        deadline = time.monotonic() + 10.0
        while not pair.us.store.checkpoints_of("ru") and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        deliverer.stop()
    (cp,) = pair.us.store.checkpoints_of("ru")
    assert cp.body["log_count"] == 2  # ru's text and the ack us gave it
    assert pair.us.stuck_streams() == []


def test_4_bodies_kept_by_older_nodes_are_dropped_on_open(tmp_path: Path,
                                                          keys: dict[str, SigningKey]) -> None:
    import sqlite3

    db = tmp_path / "old.db"
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("CREATE TABLE line_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        conn.execute("INSERT INTO line_meta VALUES ('party', 'us')")
        conn.execute("CREATE TABLE line_refusals (id INTEGER PRIMARY KEY, at REAL NOT NULL, "
                     "peer TEXT, msg_id TEXT, reason TEXT NOT NULL, raw TEXT)")
        conn.execute("INSERT INTO line_refusals (at, reason, raw) VALUES (1, 'junk', ?)",
                     ("x" * 65536,))
    conn.close()
    with LineStore(db, "us", keys["us"]) as store:
        (r,) = store.refusals()
        assert r.reason == "junk" and r.raw_size == 65536
        assert store._conn.execute("SELECT raw FROM line_refusals").fetchone() == (None,)


# -- a hostile peer's replies cannot stop the sender's deliverer ---------------------------

def test_hostile_peer_replies_are_delivery_failures(pair: Pair) -> None:
    import httpx

    from skyaccord.line.peer import HttpPeer

    m = pair.us.send("ru", "text", {"text": "x"})
    deep: Any = []
    for _ in range(100_000):
        deep = [deep]
    ack = pair.ru.receive(pair.us.envelope(m))[1]["ack"]
    replies: list[Any] = [
        (200, {"ack": deep}), (200, {"ack": {**ack, "body": {**ack["body"],
                                                              "received_at": float("nan")}}}),
        (200, {"ack": {**ack, "seq": 10**400}}), (200, "not a dict"), (200, None),
        (409, {"error": "x", "resync": "junk"}),
        (409, {"error": "x", "resync": {"expected": 10**400, "at": float("nan"), "sig": 1}}),
        (409, {"error": "x", "resync": {"expected": 1, "at": pair.clock(), "sig": "AAAA"}}),
        RuntimeError("transport bug"),
    ]

    class Hostile:
        def deliver(self, envelope: Any) -> tuple[int, Any]:
            r = replies.pop(0)
            if isinstance(r, Exception):
                raise r
            return r  # type: ignore[no-any-return]

        def close(self) -> None:
            pass

    pair.us.peers["ru"] = Hostile()
    while replies:
        pair.us._backoff.clear()
        assert pair.us.deliver_once() == 0
        assert pair.us.store.pending("ru")[0].id == m.id
    assert pair.us.store.outbox()[0].attempts == 9
    assert pair.us.store.incidents() == []  # no unsigned resync was believed
    # over HTTP: a reply nested past Python's limit is "not JSON", not a crash
    body = b"[" * 100_000 + b"]" * 100_000
    peer = HttpPeer("http://ru.invalid")
    peer._client = httpx.Client(transport=httpx.MockTransport(
        lambda request: httpx.Response(200, content=body)))
    pair.us.peers["ru"] = peer
    pair.us._backoff.clear()
    assert pair.us.deliver_once() == 0
    assert "is not JSON" in (pair.us.store.outbox()[0].last_error or "")
    peer.close()


def test_checkpoints_forged_by_the_accuser_do_not_count(pair: Pair, keys: dict[str, SigningKey]
                                                        ) -> None:
    import sqlite3

    from skyaccord.line import cross_check, generate_key

    pair.us.send("ru", "text", {"text": "x"})
    pair.us.deliver_once()
    (real,) = pair.us.send_checkpoints()
    pair.us.deliver_once()
    assert cross_check(pair.us.store.path, pair.ru.store.path) == []
    # ru fabricates a checkpoint "from us" (any key but us's) to accuse us
    fake = make_message(generate_key(), kind="checkpoint", sender="us", recipient="ru",
                        seq=99, created_at=pair.clock(), accord=pair.us.accord.sha256,
                        body={"log_count": 1, "log_head": "f" * 64})
    pair.ru.store.close()
    conn = sqlite3.connect(pair.ru.store.path)
    with conn:
        pos = conn.execute("SELECT max(pos) FROM line_log").fetchone()[0] + 1
        conn.execute("INSERT INTO line_log VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                     (pos, fake.id, "received", "us", pair.clock(), fake.to_json(), "0" * 64,
                      "0" * 64, "checkpoint", "us", 99, None))
        conn.execute("INSERT INTO line_log VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                     (pos + 1, "c" * 32, "received", "us", pair.clock(), "{not json",
                      "0" * 64, "0" * 64, "text", "us", 100, None))
    conn.close()
    problems = cross_check(pair.us.store.path, pair.ru.store.path)
    assert any(f"checkpoint {fake.id} claims to be us's" in p and "forged evidence" in p
               for p in problems), problems
    assert not any("contradicts its signed checkpoint" in p for p in problems)
    assert any("unreadable" in p for p in problems)  # reported, not raised
    assert real.id not in " ".join(problems)


def test_9_verify_reports_a_hostile_log_file_never_crashes(pair: Pair, files: Path) -> None:
    import sqlite3

    from typer.testing import CliRunner

    from skyaccord.cli import app
    from tests.line.test_log import filled

    us_db, ru_db = filled(pair)
    pair.us.store.close()
    pair.ru.store.close()
    conn = sqlite3.connect(us_db)
    with conn:
        conn.execute("UPDATE line_log SET message = ? WHERE pos = 2", ("[" * 5000,))
        conn.execute("UPDATE line_log SET message = 'null' WHERE pos = 3")
        conn.execute("UPDATE line_head SET sig = 12345")
        conn.execute("INSERT INTO line_meta VALUES ('accord:' || ?, '[]')", ("e" * 64,))
    conn.close()
    for args in (["line", "verify", str(us_db)],
                 ["line", "verify", str(us_db), "--against", str(ru_db)],
                 ["line", "verify", str(ru_db), "--against", str(us_db)]):
        r = CliRunner().invoke(app, args)
        assert r.exit_code == 1 and isinstance(r.exception, SystemExit), (args, r.output,
                                                                           r.exception)
        assert "unreadable" in r.output
