"""Operators' bearer tokens: roles, hashed storage, checks.

A token is 32 random bytes (URL-safe base64, prefixed ``sky_``), shown once when made.
The node keeps only its SHA-256 — a token has 256 bits of entropy, so a plain hash
cannot be reversed by guessing, and a stolen tokens file grants nothing. Roles are
ordered: ``viewer`` (read) < ``operator`` (also send on the line, submit intents, post
tracks) < ``admin`` (also make and revoke tokens).

The tokens file (JSON, owner-only) is rewritten atomically on every change.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
import time
from dataclasses import asdict, dataclass
from enum import IntEnum
from pathlib import Path
from typing import Any

from skyaccord.errors import InputError, NotFound, PermissionDenied, Unauthenticated
from skyaccord.node.config import require_owner_only, write_owner_only

__all__ = ["Role", "TokenInfo", "TokenStore", "hash_token"]

_PREFIX = "sky_"
_MAX_TOKENS = 10_000
_NAME_MAX = 64


class Role(IntEnum):
    """What a token may do; a higher role may do all a lower one may."""

    VIEWER = 1
    OPERATOR = 2
    ADMIN = 3

    @classmethod
    def parse(cls, name: str) -> Role:
        try:
            return cls[name.upper()]
        except KeyError:
            raise InputError(f"unknown role {name!r}; roles are viewer, operator, admin"
                             ) from None


@dataclass(frozen=True)
class TokenInfo:
    """What the node knows of a token: never the token itself."""

    id: str
    name: str
    role: str
    created_at: float
    sha256: str

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "role": self.role,
                "created_at": self.created_at}


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


class TokenStore:
    """The operators' tokens of one node, kept in ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._by_hash: dict[str, TokenInfo] = {}
        if self.path.exists():
            require_owner_only(self.path, "tokens file")
            try:
                doc = json.loads(self.path.read_text(encoding="utf-8"))
                rows = doc["tokens"]
                infos = [TokenInfo(**{k: r[k] for k in ("id", "name", "role",
                                                        "created_at", "sha256")})
                         for r in rows]
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise InputError(f"{self.path}: not a tokens file: {exc}") from None
            self._by_hash = {i.sha256: i for i in infos}

    def __len__(self) -> int:
        return len(self._by_hash)

    def _save(self) -> None:
        doc = {"tokens": [asdict(i) for i in self._by_hash.values()]}
        write_owner_only(self.path, json.dumps(doc, indent=1), overwrite=True)

    def create(self, name: str, role: Role, now: float | None = None) -> tuple[str, TokenInfo]:
        """A new token (returned once, in clear) and what is kept of it."""
        if not name or len(name) > _NAME_MAX or not name.isprintable():
            raise InputError(f"token name: 1 to {_NAME_MAX} printable characters")
        token = _PREFIX + secrets.token_urlsafe(32)
        digest = hash_token(token)
        info = TokenInfo(id=digest[:12], name=name, role=role.name.lower(),
                         created_at=time.time() if now is None else now, sha256=digest)
        with self._lock:
            if len(self._by_hash) >= _MAX_TOKENS:
                raise InputError(f"at most {_MAX_TOKENS} tokens")
            self._by_hash[digest] = info
            self._save()
        return token, info

    def revoke(self, token_id: str) -> TokenInfo:
        with self._lock:
            for digest, info in self._by_hash.items():
                if info.id == token_id:
                    del self._by_hash[digest]
                    self._save()
                    return info
        raise NotFound(f"no token {token_id!r}")

    def list(self) -> list[TokenInfo]:
        return sorted(self._by_hash.values(), key=lambda i: i.created_at)

    def check(self, authorization: str | None, needed: Role) -> TokenInfo:
        """The token's info if ``authorization`` (``Bearer TOKEN``) grants ``needed``.

        Raises :class:`Unauthenticated` (401) without a valid token and
        :class:`PermissionDenied` (403) when its role is too low.
        """
        if not authorization:
            raise Unauthenticated("an operator token is required: Authorization: Bearer TOKEN")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("the Authorization header must be 'Bearer TOKEN'")
        info = self._by_hash.get(hash_token(token.strip()))
        if info is None:
            raise Unauthenticated("unknown or revoked token")
        if Role.parse(info.role) < needed:
            raise PermissionDenied(f"token {info.name!r} is a {info.role}; this needs "
                                   f"{needed.name.lower()}")
        return info
