"""Access tokens as F3548-21 requires them (``components.securitySchemes.Authority`` of
the interface document): OAuth 2 bearer tokens (RFC 6750) that are JWTs (RFC 7519) signed
with RS256 by an authority whose public keys this DSS is given, carrying ``sub`` (the
client: the manager of what it writes), ``scope`` (space-separated, RFC 6749), ``exp``
and an ``aud`` that names this DSS.

A missing, malformed, badly signed, expired or foreign-audience token is
:class:`~skyaccord.errors.Unauthenticated` (401); a good token without a scope the
endpoint accepts is :class:`~skyaccord.errors.PermissionDenied` (403).
"""

from __future__ import annotations

import stat
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
from cryptography.hazmat.primitives.serialization import (
    load_pem_private_key,
    load_pem_public_key,
)

from skyaccord.errors import InputError, PermissionDenied, Unauthenticated

__all__ = [
    "AVAILABILITY_ARBITRATION",
    "CONFORMANCE_MONITORING_SA",
    "CONSTRAINT_MANAGEMENT",
    "CONSTRAINT_PROCESSING",
    "SCOPES",
    "STRATEGIC_COORDINATION",
    "Authenticator",
    "Caller",
    "TokenSigner",
    "load_private_key",
    "load_public_keys",
]

STRATEGIC_COORDINATION = "utm.strategic_coordination"
CONSTRAINT_MANAGEMENT = "utm.constraint_management"
CONSTRAINT_PROCESSING = "utm.constraint_processing"
CONFORMANCE_MONITORING_SA = "utm.conformance_monitoring_sa"
AVAILABILITY_ARBITRATION = "utm.availability_arbitration"
SCOPES = (STRATEGIC_COORDINATION, CONSTRAINT_MANAGEMENT, CONSTRAINT_PROCESSING,
          CONFORMANCE_MONITORING_SA, AVAILABILITY_ARBITRATION)

#: Longest token accepted (bytes of the header value): bounds the work of a bad request.
MAX_TOKEN_BYTES = 8192


@dataclass(frozen=True, slots=True)
class Caller:
    """Who asks: the token's ``sub`` and its scopes."""

    sub: str
    scopes: frozenset[str]

    def has(self, scope: str) -> bool:
        return scope in self.scopes

    def require_any(self, alternatives: Iterable[Iterable[str]]) -> None:
        """Pass when the caller holds every scope of one alternative (the document's
        ``security`` list: alternatives, each a set of scopes needed together)."""
        alts = [frozenset(a) for a in alternatives]
        if not any(a <= self.scopes for a in alts):
            wanted = " or ".join(" + ".join(sorted(a)) for a in alts)
            raise PermissionDenied(f"the access token's scopes do not allow this request: "
                                   f"it needs {wanted}")


def load_public_keys(paths: Sequence[str | Path]) -> list[RSAPublicKey]:
    """RSA public keys from PEM files (a file may hold a public key or a certificate's
    SubjectPublicKeyInfo block)."""
    keys = []
    for p in paths:
        try:
            data = Path(p).read_bytes()
        except OSError as exc:
            raise InputError(f"{p}: cannot read the public key: {exc.strerror}") from exc
        try:
            key = load_pem_public_key(data)
        except ValueError as exc:
            raise InputError(f"{p}: not a PEM public key: {exc}") from exc
        if not isinstance(key, RSAPublicKey):
            raise InputError(f"{p}: an RS256 key must be RSA, got {type(key).__name__}")
        keys.append(key)
    if not keys:
        raise InputError("at least one public key is needed to check access tokens")
    return keys


class Authenticator:
    """Checks bearer tokens against ``keys`` (any may have signed) and ``audience``."""

    def __init__(self, keys: Sequence[RSAPublicKey], audience: str,
                 leeway_s: float = 5.0, issuer: str | None = None) -> None:
        if not keys:
            raise InputError("at least one public key is needed to check access tokens")
        if not audience:
            raise InputError("the audience (this DSS's name in tokens' aud) is empty")
        self.keys = list(keys)
        self.audience = audience
        self.leeway_s = leeway_s
        self.issuer = issuer  # when given, a token's iss must be it (F3548: the token URL)

    def caller(self, authorization: str | None) -> Caller:
        """The :class:`Caller` of an ``Authorization`` header value."""
        if not authorization:
            raise Unauthenticated("no access token: send 'Authorization: Bearer <JWT>'")
        if len(authorization) > MAX_TOKEN_BYTES:
            raise Unauthenticated(f"the Authorization header is over {MAX_TOKEN_BYTES} bytes")
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("the Authorization header must be 'Bearer <JWT>'")
        claims = None
        last = "no key"
        for key in self.keys:
            try:
                claims = jwt.decode(token.strip(), key, algorithms=["RS256"],
                                    audience=self.audience, issuer=self.issuer,
                                    leeway=self.leeway_s,
                                    options={"require": ["exp", "sub", "aud"]
                                             + (["iss"] if self.issuer else [])})
                break
            except jwt.InvalidSignatureError:
                last = "the signature does not verify with any configured key"
                continue
            except jwt.PyJWTError as exc:
                raise Unauthenticated(f"the access token is not valid: {exc}") from exc
        if claims is None:
            raise Unauthenticated(f"the access token is not valid: {last}")
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub or len(sub) > 256:
            raise Unauthenticated("the access token's sub must be a non-empty string")
        scope = claims.get("scope", "")
        if isinstance(scope, list):
            scopes = frozenset(str(s) for s in scope)
        elif isinstance(scope, str):
            scopes = frozenset(scope.split())
        else:
            raise Unauthenticated("the access token's scope must be a space-separated string")
        return Caller(sub, scopes)


def load_private_key(path: str | Path) -> RSAPrivateKey:
    """An RSA private key from an unencrypted PEM file that only its owner may read."""
    p = Path(path)
    try:
        mode = p.stat().st_mode
        data = p.read_bytes()
    except OSError as exc:
        raise InputError(f"{p}: cannot read the signing key: {exc.strerror}") from exc
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise InputError(f"{p}: the signing key is readable by others (mode "
                         f"{stat.S_IMODE(mode):04o}); run: chmod 600 {p}")
    try:
        key = load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise InputError(f"{p}: not an unencrypted PEM private key: {exc}") from exc
    if not isinstance(key, RSAPrivateKey):
        raise InputError(f"{p}: an RS256 key must be RSA, got {type(key).__name__}")
    return key


class TokenSigner:
    """A USS's own access tokens (F3548's ``Authority`` claims: ``iss``, ``exp`` within the
    hour, ``sub``, ``scope``, ``jti``), signed RS256 with ``key``: for a party that is its
    own token authority, the DSS and the other USSs being given its public key. A token is
    reused per (audience, scopes) until a minute before it expires."""

    def __init__(self, key: RSAPrivateKey, sub: str, issuer: str,
                 lifetime_s: float = 600.0, clock: Callable[[], float] = time.time) -> None:
        if not sub:
            raise InputError("the token's sub (the manager) is empty")
        if not 60.0 < lifetime_s <= 3600.0:
            raise InputError("a token lives more than a minute and at most an hour (F3548)")
        self.key = key
        self.sub = sub
        self.issuer = issuer
        self.lifetime_s = lifetime_s
        self.clock = clock
        self._cache: dict[tuple[str, str], tuple[float, str]] = {}
        self._lock = threading.Lock()

    def public_pem(self) -> bytes:
        from cryptography.hazmat.primitives import serialization

        return self.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

    def token(self, audience: str, scopes: Iterable[str] = (STRATEGIC_COORDINATION,)) -> str:
        scope = " ".join(sorted(set(scopes)))
        now = self.clock()
        with self._lock:
            cached = self._cache.get((audience, scope))
            if cached is not None and cached[0] - 60.0 > now:
                return cached[1]
            exp = now + self.lifetime_s
            token = jwt.encode({"iss": self.issuer, "sub": self.sub, "aud": audience,
                                "scope": scope, "iat": int(now), "exp": int(exp),
                                "jti": str(uuid.uuid4())}, self.key, algorithm="RS256")
            if len(self._cache) > 1000:
                self._cache.clear()
            self._cache[(audience, scope)] = (exp, token)
            return token
