"""Failed sign-ins per client address: after MAX_FAILURES within WINDOW_S the address waits.

In memory per process (a restart forgets; each replica counts its own): enough to turn a token guess
per request into a handful per quarter hour. Pure logic; the clock is passed in.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

MAX_FAILURES = 5
WINDOW_S = 900.0
MAX_ADDRESSES = 10_000  # bound the memory a spray of addresses can take


@dataclass
class LoginThrottle:
    _failures: dict[str, deque[float]] = field(default_factory=dict)

    def _recent(self, address: str, now: float) -> deque[float]:
        times = self._failures.get(address, deque())
        while times and times[0] <= now - WINDOW_S:
            times.popleft()
        return times

    def wait_s(self, address: str, now: float) -> float:
        """Seconds this address must wait before its next try (0: it may try now)."""
        times = self._recent(address, now)
        if len(times) < MAX_FAILURES:
            return 0.0
        return times[0] + WINDOW_S - now

    def failed(self, address: str, now: float) -> int:
        """Record a failure; the number of failures in the window."""
        times = self._recent(address, now)
        times.append(now)
        if address not in self._failures and len(self._failures) >= MAX_ADDRESSES:
            self._failures.pop(next(iter(self._failures)))
        self._failures[address] = times
        return len(times)

    def succeeded(self, address: str) -> None:
        self._failures.pop(address, None)
