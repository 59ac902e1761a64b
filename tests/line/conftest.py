"""Fixtures of the line tests: keys per party, an accord listing them, key files, and two
nodes joined in process by a direct transport under a fake clock."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from skyaccord.line import LineStore, Node, generate_key, public_key_b64
from skyaccord.line.keys import SigningKey, save_key
from skyaccord.protocol import Accord, parse_accord
from tests.line.helpers import PARTIES, Clock, Direct, Pair
from tests.support.local_nodes import accord_text_with_keys


@pytest.fixture(scope="session")
def keys() -> dict[str, SigningKey]:
    return {p: generate_key() for p in PARTIES}


@pytest.fixture(scope="session")
def accord(keys: dict[str, SigningKey]) -> Accord:
    a = parse_accord(accord_text_with_keys(keys), "test-accord")
    assert a.party("us").public_key == public_key_b64(keys["us"])
    return a


@pytest.fixture
def files(tmp_path: Path, keys: dict[str, SigningKey]) -> Path:
    """tmp_path with accord.toml and PARTY.key for each party."""
    (tmp_path / "accord.toml").write_text(accord_text_with_keys(keys), encoding="utf-8")
    for p, k in keys.items():
        save_key(k, tmp_path / f"{p}.key")
    return tmp_path


@pytest.fixture
def pair(tmp_path: Path, keys: dict[str, SigningKey], accord: Accord) -> Iterator[Pair]:
    clock = Clock()
    to_ru, to_us = Direct(), Direct()
    us = Node("us", keys["us"], accord, LineStore(tmp_path / "us.db", "us", keys["us"]),
              {"ru": to_ru}, clock=clock)
    ru = Node("ru", keys["ru"], accord, LineStore(tmp_path / "ru.db", "ru", keys["ru"]),
              {"us": to_us}, clock=clock)
    to_ru.target, to_us.target = ru, us
    yield Pair(us, ru, to_ru, to_us, clock)
    us.store.close()
    ru.store.close()
