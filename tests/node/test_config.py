"""The node config file: paths relative to it, errors naming the key; flags override."""

from __future__ import annotations

from pathlib import Path

import pytest

from skyaccord.errors import InputError
from skyaccord.node.config import load_settings, merge_overrides, parse_peer


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "node.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_good_config(tmp_path: Path) -> None:
    cfg = load_settings(write(tmp_path, '[node]\nparty = "ru"\nkey = "k/ru.key"\n'
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
     "PARTY=http(s)"),
    ('[node]\nparty = "ru"\nkey = "k"\ndb = "d"\nport = 1\ntick_s = -1\n', "'node.tick_s'"),
    ('[node]\nparty = "ru"\nkey = "k"\ndb = "d"\nport = 1\nmax_body_bytes = 10\n',
     "'node.max_body_bytes'"),
    ('[node]\nparty = "ru"\nkey = "k"\ndb = "d"\nport = 1\ntls_cert = "c"\n',
     "tls_cert and tls_key go together"),
    ('[node]\nparty = "ru"\nkey = "k"\ndb = "d"\nport = 1\nfeeds = "x"\n', "'node.feeds'"),
    ('[node]\nparty = "ru"\nkey = "k"\ndb = "d"\nport = 1\n[peers]\nru = "http://h:1"\n',
     "own party"),
    ('[node]\nparty = "ru"\nkey = "k"\ndb = "d"\nport = 1\n[colours]\n', "[colours]"),
    ('[node\n', "cannot read node config"),
    ('x = 1\n', "missing table [node]"),
])
def test_bad_config_names_the_fault(tmp_path: Path, text: str, words: str) -> None:
    with pytest.raises(InputError, match=None) as info:
        load_settings(write(tmp_path, text))
    assert words in str(info.value)


def test_parse_peer() -> None:
    assert parse_peer("us=http://h:1") == ("us", "http://h:1")
    with pytest.raises(InputError, match="PARTY=http"):
        parse_peer("us:http://h:1")


def test_registry_defaults_beside_the_log_and_flags_override(tmp_path: Path) -> None:
    s = load_settings(write(tmp_path, '[node]\nparty = "ru"\nkey = "ru.key"\n'
                                      'db = "data/ru.db"\nport = 8702\n'
                                      'registry = "postgresql://u@h/db"\n'))
    assert s.registry_url == "postgresql://u@h/db"
    assert s.tokens_path == tmp_path / "data" / "ru-tokens.json"
    t = merge_overrides(s, port=9000, registry=None, tick_s=0.5)
    assert (t.port, t.registry_url, t.tick_s) == (9000, "postgresql://u@h/db", 0.5)
    u = load_settings(write(tmp_path, '[node]\nparty = "ru"\nkey = "k"\ndb = "ru.db"\n'
                                      'port = 1\n'))
    assert u.registry_url == str(tmp_path / "ru-registry.db")
    with pytest.raises(InputError, match="go together"):
        merge_overrides(u, tls_key=tmp_path / "k.pem")
