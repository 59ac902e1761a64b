"""Reaching other nodes: a tiny transport interface and its httpx implementation.

Tests and the in-process benchmark swap :class:`Transport` for a direct call; nodes use
:class:`HttpPeer`. httpx errors become :class:`~skyaccord.errors.LineError`.
"""

from __future__ import annotations

import ssl
from typing import Any, Protocol

import httpx

from skyaccord.errors import LineError
from skyaccord.line.messages import canonical

__all__ = ["DELIVER_PATH", "HttpPeer", "Transport", "envelope_bytes"]

DELIVER_PATH = "/line/messages"


def envelope_bytes(envelope: dict[str, Any]) -> bytes:
    """The bytes a node posts: the envelope's canonical JSON, the only form a receiver
    accepts (:func:`~skyaccord.line.messages.parse_envelope_bytes`)."""
    return canonical(envelope).encode("utf-8")


class Transport(Protocol):
    """Posts one envelope to a peer; returns (HTTP status, decoded JSON reply)."""

    def deliver(self, envelope: dict[str, Any]) -> tuple[int, Any]: ...

    def close(self) -> None: ...


class HttpPeer:
    """A peer node at ``url`` (e.g. ``http://127.0.0.1:8702``), over one httpx client."""

    def __init__(self, url: str, timeout_s: float = 5.0, *,
                 verify: ssl.SSLContext | bool = True) -> None:
        """``verify``: the TLS context that checks the peer's certificate (https)."""
        self.url = url.rstrip("/")
        self._client = httpx.Client(timeout=timeout_s, verify=verify)

    def deliver(self, envelope: dict[str, Any]) -> tuple[int, Any]:
        try:
            r = self._client.post(self.url + DELIVER_PATH, content=envelope_bytes(envelope),
                                  headers={"content-type": "application/json"})
        except httpx.HTTPError as exc:
            raise LineError(f"{self.url}: {type(exc).__name__}: {exc}") from None
        try:
            return r.status_code, r.json()
        except (ValueError, RecursionError):  # not JSON, or nested past Python's limit
            raise LineError(f"{self.url}: reply {r.status_code} is not JSON") from None

    def close(self) -> None:
        self._client.close()
