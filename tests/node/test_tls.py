"""Two node processes speaking HTTPS to each other and to their operators, each peer's
certificate checked against the CA named in the config (``peer_ca``)."""

from __future__ import annotations

import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import trustme

from skyaccord.line import generate_key
from skyaccord.line.keys import save_key
from tests.support.local_nodes import accord_text_with_keys, free_port


def _wait(url: str, ca: str, headers: dict[str, str], proc: subprocess.Popen[bytes],
          log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(log.read_text())
        try:
            ctx = ssl.create_default_context(cafile=ca)
            if httpx.get(url + "/health", verify=ctx, headers=headers).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError("node did not start")


def test_peers_and_operators_over_tls(tmp_path: Path) -> None:
    ca = trustme.CA()
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    keys = {p: generate_key() for p in ("us", "ru")}
    (tmp_path / "accord.toml").write_text(accord_text_with_keys(keys), encoding="utf-8")
    ports = {p: free_port() for p in keys}
    procs: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for p, k in keys.items():
            save_key(k, tmp_path / f"{p}.key")
            cert = ca.issue_cert("127.0.0.1", "localhost")
            cert.cert_chain_pems[0].write_to_path(str(tmp_path / f"{p}.crt"))
            cert.private_key_pem.write_to_path(str(tmp_path / f"{p}.tls.key"))
            (tmp_path / f"{p}.tls.key").chmod(0o600)
            other = "ru" if p == "us" else "us"
            (tmp_path / f"{p}.toml").write_text(
                f'[node]\nparty = "{p}"\nkey = "{p}.key"\ndb = "{p}.db"\n'
                f'accord = "accord.toml"\nport = {ports[p]}\ntls_cert = "{p}.crt"\n'
                f'tls_key = "{p}.tls.key"\npeer_ca = "ca.pem"\n'
                f'[peers]\n{other} = "https://127.0.0.1:{ports[other]}"\n')
            log = tmp_path / f"{p}.out"
            with open(log, "wb") as out:
                procs[p] = subprocess.Popen(
                    [sys.executable, "-m", "skyaccord", "serve", "--config",
                     str(tmp_path / f"{p}.toml")], stdout=out, stderr=subprocess.STDOUT)
        auth = {}
        for p in keys:
            token_file = tmp_path / f"{p}-admin.token"
            deadline = time.monotonic() + 30
            while not token_file.exists() and time.monotonic() < deadline:
                time.sleep(0.05)
            auth[p] = {"Authorization": f"Bearer {token_file.read_text().strip()}"}
            _wait(f"https://127.0.0.1:{ports[p]}", str(ca_file), auth[p], procs[p],
                  tmp_path / f"{p}.out")
        ctx = ssl.create_default_context(cafile=str(ca_file))
        us = f"https://127.0.0.1:{ports['us']}"
        ru = f"https://127.0.0.1:{ports['ru']}"
        # plain HTTP and an unknown CA are both refused
        with pytest.raises(httpx.HTTPError):
            httpx.get(us.replace("https", "http") + "/health", headers=auth["us"])
        with pytest.raises(httpx.HTTPError):
            httpx.get(us + "/health", headers=auth["us"])  # system CAs do not know ours
        r = httpx.post(us + "/line/send", verify=ctx, headers=auth["us"],
                       json={"to": "ru", "kind": "text", "body": {"text": "over TLS"}})
        assert r.status_code == 200, r.text
        deadline = time.monotonic() + 20
        inbox: list[dict[str, object]] = []
        while time.monotonic() < deadline and not inbox:
            inbox = httpx.get(ru + "/line/inbox", verify=ctx,
                              headers=auth["ru"]).json()
            time.sleep(0.1)
        assert [m["body"] for m in inbox] == [{"text": "over TLS"}]
    finally:
        for proc in procs.values():
            proc.terminate()
            proc.wait(timeout=10)
