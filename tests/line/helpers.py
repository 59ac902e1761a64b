"""Helpers of the line tests: a fake clock, an in-process transport, accord text."""

from __future__ import annotations

import dataclasses
from typing import Any

from skyaccord.errors import LineError
from skyaccord.line import Node
from skyaccord.line.peer import envelope_bytes
from skyaccord.protocol import Accord, default_accord

PARTIES = ("us", "ru", "tr")
T0 = 1_445_299_200.0  # 20 Oct 2015 00:00 UTC, the accord's effective time


class Clock:
    def __init__(self, t: float = T0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


class Direct:
    """A transport that hands the envelope, through JSON, to another node in process."""

    def __init__(self) -> None:
        self.target: Node | None = None
        self.down = False
        self.calls = 0

    def deliver(self, envelope: dict[str, Any]) -> tuple[int, Any]:
        self.calls += 1
        if self.down or self.target is None:
            raise LineError("connection refused (test)")
        return self.target.receive_bytes(envelope_bytes(envelope))

    def close(self) -> None:
        pass


@dataclasses.dataclass
class Pair:
    us: Node
    ru: Node
    to_ru: Direct
    to_us: Direct
    clock: Clock



def keyless(accord: Accord) -> Accord:
    """The default accord has no keys: nodes under it cannot verify anyone."""
    return dataclasses.replace(accord, parties=default_accord().parties)
