"""Helpers of the line tests: a fake clock, an in-process transport, accord text."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from pathlib import Path
from typing import Any

from skyaccord.errors import LineError
from skyaccord.line import Node
from skyaccord.line.keys import SigningKey
from skyaccord.line.keys import sign as sign_with
from skyaccord.line.log import GENESIS, LogEntry, entry_hash, head_bytes, read_entries
from skyaccord.line.peer import envelope_bytes
from skyaccord.protocol import Accord, default_accord

PARTIES = ("us", "ru", "tr")
T0 = 1_445_299_200.0  # 20 Oct 2015 00:00 UTC, the accord's effective time


class Clock:
    def __init__(self, t: float = T0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


class Direct:
    """A transport that hands the envelope, through JSON, to another node in process."""

    def __init__(self) -> None:
        self.target: Node | None = None
        self.down = False
        self.calls = 0

    def deliver(self, envelope: dict[str, Any]) -> tuple[int, Any]:
        self.calls += 1
        if self.down or self.target is None:
            raise LineError("connection refused (test)")
        return self.target.receive_bytes(envelope_bytes(envelope))

    def close(self) -> None:
        pass


@dataclasses.dataclass
class Pair:
    us: Node
    ru: Node
    to_ru: Direct
    to_us: Direct
    clock: Clock



def keyless(accord: Accord) -> Accord:
    """The default accord has no keys: nodes under it cannot verify anyone."""
    return dataclasses.replace(accord, parties=default_accord().parties)


def rewrite_without(db: Path, key: SigningKey, party: str, drop: set[str]) -> None:
    """The party itself rebuilds its whole chain without the entries ``drop`` (message
    ids) and re-signs the head with its own key: alone, the log verifies."""
    kept = [e for e in read_entries(db) if e.msg_id not in drop]
    rechain_signed(db, kept, key, party)


def rechain_signed(db: Path, kept: list[LogEntry], key: SigningKey, party: str) -> None:
    """Rewrite the log at ``db`` as the chain of ``kept`` entries, the head signed with
    ``key``: what a party holding its own key can do to its own log."""
    conn = sqlite3.connect(db)
    prev = GENESIS
    with conn:
        conn.execute("DELETE FROM line_log")
        for pos, e in enumerate(kept, start=1):
            h = entry_hash(prev, pos, e.direction, e.peer, e.recorded_at, e.message)
            d = json.loads(e.message)
            conn.execute("INSERT INTO line_log VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                         (pos, e.msg_id, e.direction, e.peer, e.recorded_at, e.message, prev,
                          h, d["kind"], d["from"], d["seq"], d["in_reply_to"]))
            prev = h
        conn.execute("UPDATE line_head SET count=?, hash=?, sig=?",
                     (len(kept), prev, sign_with(key, head_bytes(party, len(kept), prev))))
    conn.close()


def accord_version(keys: dict[str, SigningKey], *, parties: tuple[str, ...] = PARTIES,
                   version: int = 1, effective_at: float | None = None,
                   unmanned: tuple[float, float] | None = None,
                   deadline_s: float | None = None) -> str:
    """The shipped accord's text with the keys of ``parties`` (the others' entries
    removed), another ``version`` and effective time, and optionally the unmanned pair's
    minima (NM, ft) or the response deadline changed: the versions a negotiation needs."""
    import re

    from skyaccord.timeutil import format_rfc3339
    from tests.support.local_nodes import accord_text_with_keys

    text = accord_text_with_keys({p: keys[p] for p in parties})
    for p in PARTIES:
        if p not in parties:
            text, n = re.subn(rf'\[\[parties\]\]\nid = "{p}"\n(?:[a-z_]+ = .*\n)*', "", text)
            assert n == 1, p
    text = re.sub(r"(?m)^version = 1$", f"version = {version}", text, count=1)
    effective = "" if effective_at is None else f'effective = "{format_rfc3339(effective_at)}"'
    text = re.sub(r'(?m)^effective = ".*"$', effective, text, count=1)
    if unmanned is not None:
        old = 'classes = ["unmanned", "unmanned"]\nhorizontal_nm = 1.0\nvertical_ft = 500.0'
        assert old in text
        text = text.replace(old, f'classes = ["unmanned", "unmanned"]\nhorizontal_nm = '
                            f"{unmanned[0]}\nvertical_ft = {unmanned[1]}")
    if deadline_s is not None:
        text = re.sub(r"(?m)^response_deadline_s = .*$", f"response_deadline_s = {deadline_s}",
                      text)
    return text
