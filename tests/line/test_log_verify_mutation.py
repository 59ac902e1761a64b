"""``verify_log``, its report and the recorded accords, down to each problem's words:
the tests the mutation run of the line (``line-units``, tests/mutation/README.md) found
missing. Each test names the mutants (mutmut numbers in ``skyaccord.line.log``) it kills.

The logs are real: two nodes exchange messages in process (``filled``), then the SQLite
file is tampered with as an attacker would, or rewritten by a party holding its own key
(``rechain_signed``). The expected problems are written out by hand from the entries'
positions, ids and stored hashes (read straight from the file with ``sqlite3``), so a
problem that is missing, extra, reworded or cut at another length fails the test.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from pathlib import Path

import pytest

from skyaccord.errors import InputError
from skyaccord.line import make_message, verify_log
from skyaccord.line.keys import SigningKey
from skyaccord.line.log import GENESIS, LogEntry, VerifyReport, read_entries, read_meta
from skyaccord.protocol import Accord, parse_accord
from tests.line.helpers import Pair, accord_version, rechain_signed
from tests.line.test_log import filled, sql


def rows(db: Path) -> list[tuple[int, str, str, str]]:
    """(pos, msg_id, direction, hash) of every entry, straight from the file."""
    conn = sqlite3.connect(db)
    out = conn.execute("SELECT pos, msg_id, direction, hash FROM line_log ORDER BY pos"
                       ).fetchall()
    conn.close()
    return out


def two_party(keys: dict[str, SigningKey], *parties: str, version: int = 2) -> Accord:
    """Another accord (another sha256) with the keys of ``parties`` only."""
    return parse_accord(accord_version(keys, parties=parties, version=version), "other")


def closed(pair: Pair, n: int = 2) -> tuple[Path, Path]:
    us_db, ru_db = filled(pair, n)
    pair.us.store.close()
    pair.ru.store.close()
    return us_db, ru_db


def test_intact_log_report_and_its_description(pair: Pair, accord: Accord) -> None:
    """Every field of the report of an intact log, with and without the accord given,
    and the sentence the CLI prints. Kills verify_log 8, 9, 11 (path, party, head of
    the report), 24-33 (where the keys came from), 140 (head), 165-168 (the head's
    accord recorded under another name or value); describe 1, 3, 6-9, 11-17."""
    us_db, _ = closed(pair)
    (*_, last) = rows(us_db)
    sha = accord.sha256
    r = verify_log(us_db, accord)
    assert (r.path, r.party, r.count, r.head, r.problems) == (str(us_db), "us", 8, last[3], [])
    assert r.signatures_checked == 9 and r.accords == {sha: "given"}
    assert r.describe() == (
        f"{us_db} party us: 8 entries, hash chain intact up to head {last[3]}; 9 "
        f"signatures verified (every message and the signed head) with the keys of "
        f"accord {sha} (given)")
    r = verify_log(us_db)
    assert r.ok and r.accords == {sha: "recorded in the log"}
    assert r.describe() == (
        f"{us_db} party us: 8 entries, hash chain intact up to head {last[3]}; 9 "
        f"signatures verified (every message and the signed head) with the keys of "
        f"accord {sha} (recorded in the log). Keys recorded in the log prove only that "
        "the log agrees with itself: compare that sha256 with your copy of the accord, "
        "or pass --accord")


def test_describe_joins_several_accords() -> None:
    """Two accords are listed with "; " between them, and the warning comes as soon as
    one of them is not given. Kills describe 3, 6."""
    r = VerifyReport("x.db", "us", 0, GENESIS, accords={"a" * 64: "given",
                                                         "b" * 64: "recorded in the log"})
    text = r.describe()
    assert f"accord {'a' * 64} (given); accord {'b' * 64} (recorded in the log). Keys" in text
    only_given = dataclasses.replace(r, accords={"a" * 64: "given"})
    assert only_given.describe().endswith(f"accord {'a' * 64} (given)")


def test_empty_log_names_the_recorded_accord(pair: Pair, accord: Accord) -> None:
    """A log with no entry still says which accord its (absent) signatures would be
    checked with. Kills verify_log 192-197."""
    pair.us.store.close()
    r = verify_log(pair.us.store.path)
    assert (r.count, r.head, r.problems, r.signatures_checked) == (0, GENESIS, [], 0)
    assert r.accords == {accord.sha256: "recorded in the log"}


def test_no_accord_at_all_is_refused_with_the_reason(pair: Pair, accord: Accord) -> None:
    """No accord given or recorded: InputError that says so; an accord recorded but
    altered is named in it. Kills verify_log 35-43."""
    us_db, _ = closed(pair)
    sql(us_db, "DELETE FROM line_meta WHERE key LIKE 'accord:%'")
    with pytest.raises(InputError) as err:
        verify_log(us_db)
    assert str(err.value) == (f"{us_db}: no accord recorded in this log: give the accord "
                              "(--accord) so that its signatures can be checked")
    fake = "f" * 64
    sql(us_db, f"INSERT INTO line_meta VALUES ('accord:{fake}', "
               f"'{accord.canonical_json().replace(chr(39), chr(39) * 2)}')")
    with pytest.raises(InputError) as err:
        verify_log(us_db)
    assert str(err.value) == (
        f"{us_db}: no accord recorded in this log (the accord recorded as ffffffffffff "
        f"hashes to {accord.sha256[:12]} (altered)): give the accord (--accord) so that "
        "its signatures can be checked")


def test_recorded_accords_unreadable_or_altered_each_reported(pair: Pair,
                                                               accord: Accord) -> None:
    """Two bad recorded accords before the genuine one: both reported, in order, and
    the genuine one still used. Kills recorded_accords 16, 18, 20-23, 25-30."""
    us_db, _ = closed(pair)
    sql(us_db, "DELETE FROM line_meta WHERE key LIKE 'accord:%'")
    bad1, bad2 = "1" * 64, "2" * 64
    text = accord.canonical_json().replace("'", "''")
    sql(us_db, f"INSERT INTO line_meta VALUES ('accord:{bad1}', '{{\"parties\": 7}}')",
        f"INSERT INTO line_meta VALUES ('accord:{bad2}', '{text}')",
        f"INSERT INTO line_meta VALUES ('accord:{accord.sha256}', '{text}')")
    r = verify_log(us_db)
    assert len(r.problems) == 2, r.problems
    unreadable, altered = r.problems
    assert unreadable.startswith("the accord recorded as 111111111111 is unreadable: ")
    # accord_from_dict names its source: the recorded accord, by the first 12 digits
    assert "the accord recorded in the log (111111111111)" in unreadable
    assert altered == (f"the accord recorded as 222222222222 hashes to "
                       f"{accord.sha256[:12]} (altered)")
    assert r.signatures_checked == 9 and r.accords == {accord.sha256: "recorded in the log"}


def test_entry_moved_before_the_first_is_out_of_place(pair: Pair) -> None:
    """Entry 1 renumbered -1: it is "out of place", and 0..1 are reported missing after
    it (entry 2 still follows it: the hashes did not change). Kills verify_log 54 (every
    gap called "missing")."""
    us_db, _ = closed(pair)
    sql(us_db, "UPDATE line_log SET pos = -1 WHERE pos = 1")
    r = verify_log(us_db)
    assert r.problems == [
        "entry -1: out of place",
        "entry -1: altered (hash does not match its content)",
        "entries 0..1 missing (removed)"]


def test_unreadable_entry_and_wrong_id_column(pair: Pair) -> None:
    """An entry whose message is not JSON is reported and skipped, the entries after it
    still checked; a wrong id column is named. Kills verify_log 85, 86 (``break``), 88,
    60, 61."""
    us_db, _ = closed(pair)
    r2 = rows(us_db)
    sql(us_db, "UPDATE line_log SET message = 'garbage' WHERE pos = 3",
        f"UPDATE line_log SET msg_id = '{'a' * 32}' WHERE pos = 5")
    r = verify_log(us_db)
    assert r.problems == [
        "entry 3: altered (hash does not match its content)",
        "entry 3: message unreadable: Expecting value: line 1 column 1 (char 0)",
        f"entry 5: id column {'a' * 32} != message id {r2[4][1]}"]
    assert (r.count, r.signatures_checked) == (8, 8)  # 7 messages and the head


def test_message_logged_twice_and_its_stream(pair: Pair, keys: dict[str, SigningKey]) -> None:
    """us rewrites its log (with its own key) repeating its first sent message at the
    end: logged twice, and its stream goes back from seq 2 to seq 1. Kills verify_log
    90, 91, 118."""
    us_db, _ = closed(pair)
    entries = list(read_entries(us_db))
    first = entries[0]
    sql(us_db, "DROP INDEX line_log_id")  # the file is the attacker's: no unique ids
    rechain_signed(us_db, [*entries, first], keys["us"], "us")
    r = verify_log(us_db)
    assert r.problems == [f"entry 9: message {first.msg_id} logged twice",
                          "entry 9: us->ru seq 1 follows seq 2 (missing or reordered "
                          "messages)"]


def test_direction_that_contradicts_the_message(pair: Pair, keys: dict[str, SigningKey]
                                                ) -> None:
    """A received message recorded as sent (a valid direction, the wrong one), re-signed
    by us: the peer no longer matches. Kills verify_log 92 (``and``), 104."""
    us_db, _ = closed(pair)
    entries = list(read_entries(us_db))
    pos = next(e.pos for e in entries if e.direction == "received")
    entries[pos - 1] = entries[pos - 1]._replace(direction="sent")
    rechain_signed(us_db, entries, keys["us"], "us")
    assert verify_log(us_db).problems == [
        f"entry {pos}: direction/peer do not match the message"]


def forged_from_tr(pair: Pair, keys: dict[str, SigningKey], accord: Accord) -> LogEntry:
    """A text from tr to us under ``accord``, as us's log would record it."""
    m = make_message(keys["tr"], kind="text", sender="tr", recipient="us", seq=1,
                     created_at=pair.clock(), accord=accord.sha256, body={"text": "hi"})
    return LogEntry(0, m.id, "received", "tr", pair.clock(), m.to_json(), "", "")


def test_unknown_accord_entries_each_reported(pair: Pair, keys: dict[str, SigningKey],
                                              accord: Accord) -> None:
    """Messages under an accord neither given nor recorded: each entry reported, not
    only the first, none counted as verified; the given accord still checks the head.
    Kills verify_log 121-125 (``break``), 127, 129."""
    us_db, _ = closed(pair)
    sql(us_db, "DELETE FROM line_meta WHERE key LIKE 'accord:%'")
    other = two_party(keys, "us", "ru")
    r = verify_log(us_db, other)
    assert r.problems == [
        f"entry {p}: under accord {accord.sha256[:12]}, which is neither given nor recorded "
        "in the log: signature not checked" for p in range(1, 9)]
    assert r.signatures_checked == 1 and r.accords == {other.sha256: "given"}


def test_sender_without_key_and_head_accord(pair: Pair, keys: dict[str, SigningKey],
                                            accord: Accord) -> None:
    """A message from tr under a given accord that lists only us and ru: no key for tr.
    The head is checked with the given accord, which joins the recorded one in the
    report. Kills verify_log 133, 134, 156 (the head's accord taken from the messages)."""
    us_db, _ = closed(pair)
    other = two_party(keys, "us", "ru")
    entries = list(read_entries(us_db))
    rechain_signed(us_db, [*entries, forged_from_tr(pair, keys, other)], keys["us"], "us")
    r = verify_log(us_db, other)
    assert r.problems == [f"entry 9: no public key for 'tr' in accord {other.sha256[:12]}"]
    assert r.accords == {accord.sha256: "recorded in the log", other.sha256: "given"}
    assert r.signatures_checked == 9


def test_head_accord_without_the_partys_key(pair: Pair, keys: dict[str, SigningKey],
                                            accord: Accord) -> None:
    """The given accord does not list the log's own party: its head is not checked, and
    the report says so. Kills verify_log 170, 171."""
    us_db, _ = closed(pair)
    other = two_party(keys, "ru", "tr")
    r = verify_log(us_db, other)
    assert r.problems == [f"no public key for this log's party 'us' in accord "
                          f"{other.sha256[:12]}: its head signature not checked"]
    assert r.signatures_checked == 8


def test_head_from_the_last_accord_the_messages_used(pair: Pair, keys: dict[str, SigningKey],
                                                     accord: Accord) -> None:
    """Two accords recorded, the messages under the first only: the head is checked with
    the accord the messages used, and only that one is reported. Kills verify_log 161."""
    us_db, _ = closed(pair)
    later = two_party(keys, "us", "ru", "tr")
    text = later.canonical_json().replace("'", "''")
    sql(us_db, f"INSERT INTO line_meta VALUES ('accord:{later.sha256}', '{text}')")
    r = verify_log(us_db)
    assert r.ok and r.accords == {accord.sha256: "recorded in the log"}


def test_head_missing_and_head_behind(pair: Pair) -> None:
    """The signed head deleted: "log head missing" (and ``read_meta`` gives None); the
    last entry deleted: the head names both counts and both hashes. Kills verify_log
    145-147, 151-153; read_meta 18."""
    us_db, _ = closed(pair)
    r8 = rows(us_db)
    sql(us_db, "DELETE FROM line_log WHERE pos = 8")
    assert verify_log(us_db).problems == [
        f"signed head says 8 entries ending {r8[7][3][:12]}, the log holds 7 ending "
        f"{r8[6][3][:12]} (entries removed at the end, or head altered)"]
    sql(us_db, "DELETE FROM line_head")
    assert read_meta(us_db)["head"] is None
    assert verify_log(us_db).problems == ["log head missing"]


def test_read_meta_gives_the_head_row(pair: Pair) -> None:
    """The head as stored: (count, hash, signature). Kills read_meta 18's ``or True``
    only together with the test above; here the values themselves."""
    us_db, _ = closed(pair)
    conn = sqlite3.connect(us_db)
    head = conn.execute("SELECT count, hash, sig FROM line_head").fetchone()
    party = conn.execute("SELECT value FROM line_meta WHERE key = 'party'").fetchone()[0]
    conn.close()
    meta = read_meta(us_db)
    assert meta["head"] == tuple(head) and meta["party"] == party == "us"
    assert json.loads(meta[f"accord:{pair.us.accord.sha256}"])  # the accord's JSON


def test_removed_entry_breaks_the_chain_after_it(pair: Pair) -> None:
    """Entry 3 deleted: 3..3 missing, entry 4 does not follow entry 2, and the signed
    head counts one entry more than the log (ending with the same hash). Kills
    verify_log 60, 61 (the second problem's words)."""
    us_db, _ = closed(pair)
    h8 = rows(us_db)[7][3][:12]
    sql(us_db, "DELETE FROM line_log WHERE pos = 3")
    assert verify_log(us_db).problems == [
        "entries 3..3 missing (removed)",
        "entry 4: does not follow the entry before it (an entry was removed, inserted or "
        "moved)",
        f"signed head says 8 entries ending {h8}, the log holds 7 ending {h8} (entries "
        "removed at the end, or head altered)"]


def test_every_bad_recorded_accord_named_when_none_is_usable(pair: Pair,
                                                             accord: Accord) -> None:
    """Two recorded accords, both altered, none given: the refusal names both, joined
    by "; ". Kills verify_log 39."""
    us_db, _ = closed(pair)
    sql(us_db, "DELETE FROM line_meta WHERE key LIKE 'accord:%'")
    text = accord.canonical_json().replace("'", "''")
    for fake in ("1" * 64, "2" * 64):
        sql(us_db, f"INSERT INTO line_meta VALUES ('accord:{fake}', '{text}')")
    with pytest.raises(InputError) as err:
        verify_log(us_db)
    sha = accord.sha256[:12]
    assert str(err.value) == (
        f"{us_db}: no accord recorded in this log (the accord recorded as 111111111111 "
        f"hashes to {sha} (altered); the accord recorded as 222222222222 hashes to {sha} "
        "(altered)): give the accord (--accord) so that its signatures can be checked")
