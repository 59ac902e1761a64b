"""``skyaccord node init|token`` and ``serve``'s refusals: what a new user types, and
what it must never do (leave secrets readable, start on an exposed key, half-create)."""

from __future__ import annotations

import os
from pathlib import Path

from typer.testing import CliRunner

from skyaccord.cli import app
from skyaccord.line.keys import load_key, public_key_b64
from skyaccord.node.auth import Role, TokenStore
from skyaccord.node.config import load_settings

runner = CliRunner()


def files_of(d: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(d.iterdir())}


def test_init_writes_an_owner_only_node_and_prints_its_public_key(tmp_path: Path) -> None:
    d = tmp_path / "us"
    r = runner.invoke(app, ["node", "init", str(d), "--party", "us", "--port", "8711",
                            "--peer", "ru=https://127.0.0.1:8712"])
    assert r.exit_code == 0, r.output
    key = load_key(d / "us.key")
    assert public_key_b64(key) in r.output.split()
    for name in ("us.key", "tokens.json", "admin.token"):
        assert (d / name).stat().st_mode & 0o077 == 0, name
    s = load_settings(d / "node.toml")
    assert (s.party, s.port, s.peers) == ("us", 8711, {"ru": "https://127.0.0.1:8712"})
    admin = (d / "admin.token").read_text().strip()
    assert TokenStore(d / "tokens.json").check(f"Bearer {admin}", Role.ADMIN).role == "admin"
    before = files_of(d)
    again = runner.invoke(app, ["node", "init", str(d), "--party", "us"])
    assert again.exit_code == 2 and "refusing to overwrite" in again.output
    assert files_of(d) == before


def test_init_refuses_bad_input_and_creates_nothing(tmp_path: Path) -> None:
    for args in (["--party", "xx"], ["--party", "us", "--peer", "ru"],
                 ["--party", "us", "--peer", "zz=http://h:1"], ["--party", "us", "--port", "0"]):
        d = tmp_path / "n"
        r = runner.invoke(app, ["node", "init", str(d), *args])
        assert r.exit_code == 2, (args, r.output)
        assert not d.exists(), args


def test_token_command_makes_a_token_of_the_role(tmp_path: Path) -> None:
    d = tmp_path / "us"
    runner.invoke(app, ["node", "init", str(d), "--party", "us"])
    r = runner.invoke(app, ["node", "token", "--config", str(d / "node.toml"), "--name",
                            "watch", "--role", "operator"])
    assert r.exit_code == 0, r.output
    info = TokenStore(d / "tokens.json").check(f"Bearer {r.output.strip()}", Role.OPERATOR)
    assert (info.name, info.role) == ("watch", "operator")
    bad = runner.invoke(app, ["node", "token", "--config", str(d / "node.toml"), "--name",
                              "x", "--role", "root"])
    assert bad.exit_code == 2 and "unknown role" in bad.output


def test_serve_refuses_a_key_others_can_read_and_leaves_no_database(tmp_path: Path) -> None:
    d = tmp_path / "us"
    runner.invoke(app, ["node", "init", str(d), "--party", "us"])
    os.chmod(d / "us.key", 0o644)
    r = runner.invoke(app, ["serve", "--config", str(d / "node.toml")])
    assert r.exit_code == 2
    assert "readable by others" in r.output and "chmod 600" in r.output
    assert not (d / "us.db").exists() and not (d / "us-registry.db").exists()


def test_serve_names_the_bad_config_key(tmp_path: Path) -> None:
    d = tmp_path / "us"
    runner.invoke(app, ["node", "init", str(d), "--party", "us"])
    cfg = d / "node.toml"
    cfg.write_text(cfg.read_text().replace("tick_s = 1.0", "tick_s = 1.0\ntick = 5"))
    r = runner.invoke(app, ["serve", "--config", str(cfg)])
    assert r.exit_code == 2 and "node.tick" in r.output and "unknown" in r.output
    cfg.write_text("[node\n")
    r = runner.invoke(app, ["serve", "--config", str(cfg)])
    assert r.exit_code == 2 and "cannot read node config" in r.output
    r = runner.invoke(app, ["serve", "--party", "us"])
    assert r.exit_code == 2 and "--config" in r.output
