"""Reaching other nodes: a tiny transport interface and its httpx implementation.

Tests and the in-process benchmark swap :class:`Transport` for a direct call; nodes use
:class:`HttpPeer`. httpx errors become :class:`~skyaccord.errors.LineError`.
"""

from __future__ import annotations

from typing import Any, Protocol

import httpx

from skyaccord.errors import LineError

__all__ = ["DELIVER_PATH", "HttpPeer", "Transport"]

DELIVER_PATH = "/line/messages"


class Transport(Protocol):
    """Posts one envelope to a peer; returns (HTTP status, decoded JSON reply)."""

    def deliver(self, envelope: dict[str, Any]) -> tuple[int, Any]: ...

    def close(self) -> None: ...


class HttpPeer:
    """A peer node at ``url`` (e.g. ``http://127.0.0.1:8702``), over one httpx client."""

    def __init__(self, url: str, timeout_s: float = 5.0) -> None:
        self.url = url.rstrip("/")
        self._client = httpx.Client(timeout=timeout_s)

    def deliver(self, envelope: dict[str, Any]) -> tuple[int, Any]:
        try:
            r = self._client.post(self.url + DELIVER_PATH, json=envelope)
        except httpx.HTTPError as exc:
            raise LineError(f"{self.url}: {type(exc).__name__}: {exc}") from None
        try:
            return r.status_code, r.json()
        except ValueError:
            raise LineError(f"{self.url}: reply {r.status_code} is not JSON") from None

    def close(self) -> None:
        self._client.close()
