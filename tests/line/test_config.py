"""The node config file: paths relative to it, errors naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from skyaccord.errors import LineError
from skyaccord.line.config import load_node_config, parse_peer


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "node.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_good_config(tmp_path: Path) -> None:
    cfg = load_node_config(write(tmp_path, '[node]\nparty = "ru"\nkey = "k/ru.key"\n'
                                 'db = "ru.db"\nport = 8702\nskew_s = 5\n'
                                 '[peers]\nus = "http://127.0.0.1:8701"\n'))
    assert (cfg.party, cfg.port, cfg.skew_s) == ("ru", 8702, 5.0)
    assert cfg.key == tmp_path / "k" / "ru.key" and cfg.db == tmp_path / "ru.db"
    assert cfg.accord is None and cfg.peers == {"us": "http://127.0.0.1:8701"}


@pytest.mark.parametrize(("text", "words"), [
    ('[node]\nparty = "ru"\nkey = "k"\ndb = "d"\n', "'node.port': missing"),
    ('[node]\nparty = "ru"\nkey = "k"\ndb = "d"\nport = 70000\n', "'node.port'"),
    ('[node]\nparty = "ru"\nkey = "k"\ndb = "d"\nport = 1\ncolour = 1\n', "'node.colour'"),
    ('[node]\nparty = "ru"\nkey = "k"\ndb = "d"\nport = 1\n[peers]\nus = "ftp://x"\n',
     "[peers]"),
    ('[node\n', "cannot read node config"),
    ('x = 1\n', "missing table [node]"),
])
def test_bad_config_names_the_fault(tmp_path: Path, text: str, words: str) -> None:
    with pytest.raises(LineError, match=None) as info:
        load_node_config(write(tmp_path, text))
    assert words in str(info.value)


def test_parse_peer() -> None:
    assert parse_peer("us=http://h:1") == ("us", "http://h:1")
    with pytest.raises(LineError, match="PARTY=http"):
        parse_peer("us:http://h:1")
