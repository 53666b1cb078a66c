"""Which notifications go out (daemon/notify_plan.py, pure): once per firing, reminders, one resolved,
growth is news, and at most max_per_hour messages per channel with the excess in one summary."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from daemon.alerts import Alert
from daemon.notify_plan import FIRING, RESOLVED, Outgoing, Plan, Policy, SentState, plan

T0 = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
POLICY = Policy(reminder_s=3600, max_per_hour=20)


def alert(store: str = "na", kind: str = "guard_held", revision: str = "") -> Alert:
    return Alert(kind, f"{kind}:{store}", store, "wix", f"{kind} on {store}", T0, revision)


class Notifier:
    """Applies plans to a state like the database does (what was sent becomes the state)."""

    def __init__(self, policy: Policy = POLICY) -> None:
        self.policy = policy
        self.states: dict[tuple[str, str], SentState] = {}
        self.sent: list[tuple[datetime, Outgoing]] = []

    def cycle(self, now: datetime, alerts: list[Alert], channels: tuple[str, ...] = ("webhook",)) -> Plan:
        recent = [m for at, m in self.sent if now - at < timedelta(hours=1)]
        counts = {c: sum(1 for m in recent if m.channel == c) for c in channels}
        result = plan({c: alerts for c in channels}, list(self.states.values()), counts, now, self.policy)
        for message in result.messages:
            self.sent.append((now, message))
            for n in message.notices:
                self.states[(n.alert.key, message.channel)] = SentState(
                    message.channel, n.state, n.alert, now
                )
        return result


def states_of(result: Plan) -> list[tuple[str, str, bool]]:
    return [(n.alert.key, n.state, n.reminder) for m in result.messages for n in m.notices]


def test_firing_once_then_quiet_then_a_reminder_then_resolved_once() -> None:
    n = Notifier()
    held = alert()
    assert states_of(n.cycle(T0, [held])) == [("guard_held:na", FIRING, False)]
    assert states_of(n.cycle(T0 + timedelta(minutes=30), [held])) == []
    assert states_of(n.cycle(T0 + timedelta(minutes=60), [held])) == [("guard_held:na", FIRING, True)]
    assert states_of(n.cycle(T0 + timedelta(minutes=61), [])) == [("guard_held:na", RESOLVED, False)]
    assert states_of(n.cycle(T0 + timedelta(minutes=62), [])) == []
    assert states_of(n.cycle(T0 + timedelta(minutes=63), [held])) == [("guard_held:na", FIRING, False)]


def test_no_reminders_when_turned_off() -> None:
    n = Notifier(Policy(reminder_s=0, max_per_hour=20))
    n.cycle(T0, [alert()])
    assert states_of(n.cycle(T0 + timedelta(days=3), [alert()])) == []


def test_more_contested_variants_is_news_fewer_is_not() -> None:
    n = Notifier()
    n.cycle(T0, [alert(kind="contested", revision="2")])
    assert states_of(n.cycle(T0 + timedelta(minutes=1), [alert(kind="contested", revision="1")])) == []
    grown = n.cycle(T0 + timedelta(minutes=2), [alert(kind="contested", revision="3")])
    assert states_of(grown) == [("contested:na", FIRING, False)]


def test_each_channel_has_its_own_state() -> None:
    n = Notifier()
    n.cycle(T0, [alert()], channels=("webhook",))
    result = n.cycle(T0 + timedelta(minutes=1), [alert()], channels=("webhook", "email"))
    assert [(m.channel, m.notices[0].state) for m in result.messages] == [("email", FIRING)]


def test_the_previous_state_travels_with_a_notice_for_undoing_a_failed_delivery() -> None:
    n = Notifier()
    (first,) = n.cycle(T0, [alert()]).messages
    assert first.notices[0].previous is None
    (resolved,) = n.cycle(T0 + timedelta(minutes=1), []).messages
    assert resolved.notices[0].previous == SentState("webhook", FIRING, alert(), T0)


def test_over_the_hourly_limit_the_excess_goes_out_as_one_summary() -> None:
    n = Notifier(Policy(reminder_s=3600, max_per_hour=3))
    result = n.cycle(T0, [alert(f"s{i}") for i in range(7)])
    assert [len(m.notices) for m in result.messages] == [1, 1, 5]
    assert result.messages[-1].summarised and result.deferred == 0
    # the hour is used up: the next changes wait (unmarked) until a slot frees up
    later = n.cycle(T0 + timedelta(minutes=10), [])
    assert later.messages == [] and later.deferred == 7
    freed = n.cycle(T0 + timedelta(minutes=61), [])
    assert [len(m.notices) for m in freed.messages] == [1, 1, 5]
    assert {n.state for m in freed.messages for n in m.notices} == {RESOLVED}


@given(
    st.lists(st.lists(st.sampled_from(["a", "b", "c", "d", "e"]), unique=True), min_size=1, max_size=12),
    st.integers(1, 4),
)
def test_never_more_than_the_limit_per_hour_and_every_change_is_told(
    rounds: list[list[str]], limit: int
) -> None:
    n = Notifier(Policy(reminder_s=0, max_per_hour=limit))
    now = T0
    for stores in rounds:
        now += timedelta(minutes=7)
        n.cycle(now, [alert(s) for s in stores])
        window = [m for at, m in n.sent if now - at < timedelta(hours=1)]
        assert len(window) <= limit
    for _ in range(20):  # quiet hours later every alert's last message matches what is active now
        now += timedelta(minutes=30)
        n.cycle(now, [alert(s) for s in rounds[-1]])
    told = {key: s.state for (key, _), s in n.states.items()}
    assert {k for k, v in told.items() if v == FIRING} == {f"guard_held:{s}" for s in rounds[-1]}


def test_a_resolved_message_carries_the_alert_as_last_sent() -> None:
    n = Notifier()
    n.cycle(T0, [replace(alert(), summary="held: 4 writes")])
    (message,) = n.cycle(T0 + timedelta(minutes=5), []).messages
    assert message.notices[0].alert.summary == "held: 4 writes"
