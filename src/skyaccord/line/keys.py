"""Ed25519 identities of parties' nodes (PyNaCl).

A key file holds the base64 of the 32-byte Ed25519 seed on one line, mode 0600 (written
atomically, never through a symlink; refused on load when group or others can open it). The
matching public key (base64 of 32 bytes) goes into the accord, ``[[parties]].public_key``.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
import stat
from pathlib import Path

from nacl.exceptions import BadSignatureError, CryptoError
from nacl.signing import SigningKey, VerifyKey

from skyaccord.errors import LineError, SignatureError

__all__ = [
    "SigningKey",
    "generate_key",
    "load_key",
    "public_key_b64",
    "save_key",
    "sign",
    "verify",
]


def generate_key() -> SigningKey:
    """A fresh random Ed25519 signing key."""
    return SigningKey.generate()


def public_key_b64(key: SigningKey) -> str:
    """base64 of the 32-byte public key, as the accord lists it.

    >>> len(base64.b64decode(public_key_b64(generate_key())))
    32
    """
    return base64.b64encode(bytes(key.verify_key)).decode("ascii")


def save_key(key: SigningKey, path: str | Path, *, overwrite: bool = False) -> None:
    """Write the seed to ``path``, owner-only (mode 0600 whatever the umask).

    The seed goes to a new temporary file beside ``path`` (``O_EXCL | O_NOFOLLOW``),
    synced, then takes its place in one step: ``os.replace`` with ``overwrite`` (an
    existing file or symlink is replaced, never written through, and never keeps its
    old mode), else a hard link that fails if anything exists at ``path``.
    """
    p = Path(path)
    if not overwrite and (p.exists() or p.is_symlink()):
        raise LineError(f"{p}: key file exists; pass --force to replace it")
    tmp = p.with_name(f".{p.name}.{secrets.token_hex(8)}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, (base64.b64encode(bytes(key)).decode("ascii") + "\n").encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        if overwrite:
            os.replace(tmp, p)
        else:
            os.link(tmp, p)  # fails if something appeared at p meanwhile
    except FileExistsError:
        raise LineError(f"{p}: key file exists; pass --force to replace it") from None
    except OSError as exc:
        raise LineError(f"{p}: cannot write key file: {exc}") from None
    finally:
        tmp.unlink(missing_ok=True)
    _sync_dir(p.parent)


def _sync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def load_key(path: str | Path) -> SigningKey:
    """Read a key file written by :func:`save_key`; refused when group or others may
    read or write it (the seed is the party's signature)."""
    p = Path(path)
    try:
        with open(p, "rb") as fh:
            st = os.fstat(fh.fileno())
            if not stat.S_ISREG(st.st_mode):
                raise LineError(f"{p}: a key file must be a regular file")
            if st.st_mode & 0o077:
                raise LineError(f"{p}: key file is open to group or others (mode "
                                f"{stat.S_IMODE(st.st_mode):04o}); run: chmod 600 {p}")
            text = fh.read(1024).decode("ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise LineError(f"{p}: cannot read key file: {exc}") from None
    try:
        seed = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise LineError(f"{p}: key file is not base64") from None
    if len(seed) != 32:
        raise LineError(f"{p}: an Ed25519 seed is 32 bytes, this is {len(seed)}")
    return SigningKey(seed)


def sign(key: SigningKey, data: bytes) -> str:
    """base64 of the detached 64-byte signature of ``data``."""
    return base64.b64encode(key.sign(data).signature).decode("ascii")


def verify(public_key: str, data: bytes, signature: str, *, who: str = "sender") -> None:
    """Check a detached signature; raises :class:`SignatureError` naming ``who``.

    >>> k = generate_key()
    >>> verify(public_key_b64(k), b"x", sign(k, b"x"))
    >>> verify(public_key_b64(k), b"y", sign(k, b"x"))
    Traceback (most recent call last):
    ...
    skyaccord.errors.SignatureError: bad signature from sender
    """
    try:
        raw_sig = base64.b64decode(signature, validate=True)
        raw_key = base64.b64decode(public_key, validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError(f"signature or key of {who} is not base64") from None
    if len(raw_sig) != 64 or len(raw_key) != 32:
        raise SignatureError(f"signature of {who} must be 64 bytes and key 32 bytes")
    try:
        VerifyKey(raw_key).verify(data, raw_sig)
    except (BadSignatureError, CryptoError, ValueError):
        raise SignatureError(f"bad signature from {who}") from None
