"""Which notifications to send now (PURE): dedupe, reminders, resolved messages and the hourly limit.

Per alert and channel the state is what was last sent: nothing (or "resolved") and the alert fires →
a firing message; firing and the alert grew (a new revision) → a firing message again; firing for
longer than the reminder interval → a reminder; firing and the alert is gone → one resolved message.
Each channel may send `max_per_hour` messages in any hour: when more are due, all but one go out and
the last slot carries a summary of the rest; with no slot left nothing is sent and nothing is marked,
so the next cycle with a free slot sends them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from daemon.alerts import Alert

FIRING = "firing"
RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class SentState:
    """The last message sent for one alert on one channel."""

    channel: str
    state: str  # firing | resolved
    alert: Alert  # as it was when sent
    last_sent_at: datetime


@dataclass(frozen=True, slots=True)
class Notice:
    """One alert's message: firing (new, grown, or a reminder) or resolved."""

    alert: Alert
    state: str
    reminder: bool = False
    previous: SentState | None = None  # restored when the delivery fails for good


@dataclass(frozen=True, slots=True)
class Outgoing:
    """What one channel sends as one message: a notice, or a summary of several (rate limit)."""

    channel: str
    notices: tuple[Notice, ...]

    @property
    def summarised(self) -> bool:
        return len(self.notices) > 1


@dataclass(frozen=True, slots=True)
class Policy:
    reminder_s: float  # 0: never remind
    max_per_hour: int


@dataclass(frozen=True, slots=True)
class Plan:
    messages: list[Outgoing] = field(default_factory=list)
    deferred: int = 0  # notices due but over the hourly limit with no slot left


def _due(
    alerts: Sequence[Alert], states: Mapping[str, SentState], now: datetime, policy: Policy
) -> list[Notice]:
    """One channel's due notices, most important first: new, grown, resolved, then reminders."""
    new: list[Notice] = []
    grown: list[Notice] = []
    reminders: list[Notice] = []
    active = {a.key for a in alerts}
    for alert in alerts:
        sent = states.get(alert.key)
        if sent is None or sent.state == RESOLVED:
            new.append(Notice(alert, FIRING, previous=sent))
        elif alert.revision != sent.alert.revision and _grew(alert.revision, sent.alert.revision):
            grown.append(Notice(alert, FIRING, previous=sent))
        elif policy.reminder_s > 0 and (now - sent.last_sent_at).total_seconds() >= policy.reminder_s:
            reminders.append(Notice(alert, FIRING, reminder=True, previous=sent))
    resolved = [
        Notice(s.alert, RESOLVED, previous=s)
        for key, s in sorted(states.items())
        if s.state == FIRING and key not in active
    ]
    return new + grown + resolved + reminders


def _grew(now: str, before: str) -> bool:
    """A numeric revision (a count) is news only when it rose; any other change is news."""
    if now.isdigit() and before.isdigit():
        return int(now) > int(before)
    return True


def plan(
    alerts_by_channel: Mapping[str, Sequence[Alert]],
    states: Sequence[SentState],
    sent_last_hour: Mapping[str, int],
    now: datetime,
    policy: Policy,
) -> Plan:
    """The messages each configured channel sends this cycle (channels not given are left alone)."""
    messages: list[Outgoing] = []
    deferred = 0
    for channel, alerts in alerts_by_channel.items():
        mine = {s.alert.key: s for s in states if s.channel == channel}
        due = _due(alerts, mine, now, policy)
        budget = policy.max_per_hour - sent_last_hour.get(channel, 0)
        if not due:
            continue
        if budget <= 0:
            deferred += len(due)
        elif len(due) <= budget:
            messages.extend(Outgoing(channel, (n,)) for n in due)
        else:  # all but the last slot one by one; the last carries the rest as one summary
            messages.extend(Outgoing(channel, (n,)) for n in due[: budget - 1])
            messages.append(Outgoing(channel, tuple(due[budget - 1 :])))
    return Plan(messages, deferred)
