"""Key files at the edges the mutation run of the line (``line-units``,
tests/mutation/README.md) found untested. Each test names the mutants (mutmut numbers in
``skyaccord.line.keys``) it kills. Real files in a temporary directory; the expected
errors are written out in full."""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path

import pytest

from skyaccord.errors import LineError
from skyaccord.line import generate_key, public_key_b64
from skyaccord.line.keys import load_key, save_key


def test_overwrite_replaces_an_existing_key(tmp_path: Path) -> None:
    """``overwrite=True`` replaces the file in one step (a new inode, mode 0600); without
    it an existing file is refused. Kills save_key 5 (refusing when overwriting),
    41-44 (``os.replace`` broken)."""
    p = tmp_path / "us.key"
    first, second = generate_key(), generate_key()
    save_key(first, p)
    p.chmod(0o644)
    inode = p.stat().st_ino
    with pytest.raises(LineError) as err:
        save_key(second, p)
    assert str(err.value) == f"{p}: key file exists; pass --force to replace it"
    save_key(second, p, overwrite=True)
    assert p.stat().st_ino != inode and p.stat().st_mode & 0o777 == 0o600
    assert public_key_b64(load_key(p)) == public_key_b64(second)
    assert [q.name for q in tmp_path.iterdir()] == ["us.key"]  # no temporary file left


def test_symlink_planted_at_the_temporary_name_is_not_written_through(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An attacker who could guess the temporary name plants a symlink there, pointing
    at a file of theirs: the seed must not be written through it (``O_EXCL |
    O_NOFOLLOW``), and the refusal says a file exists. The token
    (``secrets.token_hex``, which keys.py calls) is made predictable here to stand for
    the guess. Kills save_key 19 (``O_EXCL & O_NOFOLLOW``: neither flag), 49 (the
    refusal's message)."""
    monkeypatch.setattr(secrets, "token_hex", lambda n=None: "0" * 16)
    p = tmp_path / "us.key"
    stolen = tmp_path / "attacker"
    stolen.write_text("")
    (tmp_path / f".us.key.{'0' * 16}.tmp").symlink_to(stolen)
    with pytest.raises(LineError) as err:
        save_key(generate_key(), p)
    assert str(err.value) == f"{p}: key file exists; pass --force to replace it"
    assert stolen.read_text() == "" and not p.exists()


def test_unwritable_place_is_a_line_error(tmp_path: Path) -> None:
    """A key file in a directory that does not exist: a LineError naming the path and
    the OS's reason (not a FileNotFoundError from removing a temporary file that was
    never made). Kills save_key 50, 51, 52."""
    p = tmp_path / "missing" / "us.key"
    with pytest.raises(LineError) as err:
        save_key(generate_key(), p)
    tmp = str(err.value).split("'")[1]
    assert str(err.value) == (f"{p}: cannot write key file: [Errno 2] No such file or "
                              f"directory: '{tmp}'")
    assert Path(tmp).parent == p.parent and Path(tmp).name.startswith(".us.key.")


def test_load_refuses_what_is_not_a_private_regular_file(tmp_path: Path) -> None:
    """A character device is not a key file; a key file readable by its group (0640,
    the owner-execute bit clear) is refused with its mode and the fix. Kills load_key
    13, 15 (``& 64``), 16, 17."""
    with pytest.raises(LineError) as err:
        load_key(os.devnull)
    assert str(err.value) == f"{os.devnull}: a key file must be a regular file"
    p = tmp_path / "us.key"
    save_key(generate_key(), p)
    p.chmod(0o640)
    with pytest.raises(LineError) as err:
        load_key(p)
    assert str(err.value) == (f"{p}: key file is open to group or others (mode 0640); "
                              f"run: chmod 600 {p}")


def test_load_reads_one_kibibyte_strictly_decoded(tmp_path: Path) -> None:
    """The seed and blanks filling exactly 1024 bytes load, whatever follows them (never
    read: a key file is small); a seed with a character outside base64 is refused, not
    decoded leniently. Kills load_key 20, 21 (reading past 1024 bytes), 29, 30
    (``validate`` off)."""
    key = generate_key()
    seed = base64.b64encode(bytes(key)).decode("ascii")
    p = tmp_path / "us.key"
    p.write_bytes((seed + "\n").ljust(1024).encode() + b"junk after the first KiB")
    p.chmod(0o600)
    assert public_key_b64(load_key(p)) == public_key_b64(key)
    p.write_text(seed[:20] + "!" + seed[20:] + "\n")
    with pytest.raises(LineError) as err:
        load_key(p)
    assert str(err.value) == f"{p}: key file is not base64"


def test_temporary_file_is_owner_only_from_its_creation(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The temporary file is created 0600 (``os.open``'s mode), not made so afterwards:
    between its creation and ``fchmod`` another user could otherwise open it and read
    the seed once written. The mode is read at the ``fchmod`` call. Kills save_key 18
    (no mode: 0777 less the umask), 22 (0601)."""
    seen: list[int] = []
    real_fchmod = os.fchmod

    def spy(fd: int, mode: int) -> None:
        seen.append(os.fstat(fd).st_mode & 0o777)
        real_fchmod(fd, mode)

    monkeypatch.setattr(os, "fchmod", spy)
    old = os.umask(0o022)
    try:
        save_key(generate_key(), tmp_path / "us.key")
    finally:
        os.umask(old)
    assert seen == [0o600]
