"""Alert snapshots and the notifiers' shared state (sql/queries/alerts.sql, migration 0014).

`snapshot` reads what daemon/alerts.py computes alerts from, in one query on the database's clock.
`planning_cycle` holds the single notification_cycle row (FOR UPDATE SKIP LOCKED) while a replica
reads the sent states, plans and records its sends, so two replicas never send the same message.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime

from daemon.alerts import Alert, Snapshot, SourceSnapshot, StoreSnapshot
from daemon.db.pool import Connection, Pool
from daemon.db.queries import query
from daemon.notify_plan import Outgoing, SentState


async def snapshot(pool: Pool) -> Snapshot:
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        now = await conn.fetchval(query("database_now"))
        rows = await conn.fetch(query("store_alert_rows"))
        sources = await conn.fetch(query("source_alert_rows"))
    return Snapshot(
        now, tuple(StoreSnapshot(**dict(r)) for r in rows), tuple(SourceSnapshot(**dict(r)) for r in sources)
    )


@dataclass
class Cycle:
    """A claimed planning cycle: the sent states and last hour's send counts, and where to record."""

    conn: Connection
    now: datetime  # the transaction's now(): every state this cycle records carries it as last_sent_at
    states: list[SentState]
    sent_last_hour: dict[str, int]

    async def record(self, messages: Sequence[Outgoing]) -> None:
        notices = [(m.channel, n) for m in messages for n in m.notices]
        if notices:
            columns: list[list[object]] = [[] for _ in range(9)]
            for channel, n in notices:
                a = n.alert
                for column, value in zip(
                    columns,
                    (a.key, channel, n.state, a.revision, a.kind, a.store_id, a.platform, a.summary, a.since),
                    strict=True,
                ):
                    column.append(value)
            await self.conn.execute(query("record_notification_states"), *columns)
            await self.conn.execute(
                query("record_notification_sends"),
                [m.channel for m in messages],
                [m.notices[0].alert.key if len(m.notices) == 1 else "summary" for m in messages],
                [m.notices[0].state if len(m.notices) == 1 else "summary" for m in messages],
            )
        await self.conn.execute(query("finish_notification_cycle"))


@asynccontextmanager
async def planning_cycle(pool: Pool) -> AsyncIterator[Cycle | None]:
    """The cycle, or None while another replica plans one; committed when the block ends."""
    async with pool.acquire() as conn, conn.transaction():
        claimed = await conn.fetch(query("claim_notification_cycle"))
        if not claimed:
            yield None
            return
        await conn.execute(query("prune_notifications"))
        now = await conn.fetchval(query("database_now"))
        states = [
            SentState(
                r["channel"],
                r["state"],
                Alert(
                    r["kind"],
                    r["alert_key"],
                    r["store_id"],
                    r["platform"],
                    r["summary"],
                    r["since"],
                    r["revision"],
                ),
                r["last_sent_at"],
            )
            for r in await conn.fetch(query("notification_states"))
        ]
        counts = {r["channel"]: int(r["sent"]) for r in await conn.fetch(query("sends_last_hour"))}
        yield Cycle(conn, now, states, counts)


async def undo(pool: Pool, message: Outgoing, recorded_at: datetime) -> None:
    """A message was not delivered: put each notice's state back as it was (unless a later cycle
    recorded another since), so a later cycle plans it again."""
    async with pool.acquire() as conn, conn.transaction():
        for notice in message.notices:
            key, previous = notice.alert.key, notice.previous
            if previous is None:
                await conn.execute(query("forget_notification_state"), key, message.channel, recorded_at)
            else:
                await conn.execute(
                    query("restore_notification_state"),
                    key,
                    message.channel,
                    recorded_at,
                    previous.state,
                    previous.alert.revision,
                    previous.alert.summary,
                    previous.alert.since,
                    previous.last_sent_at,
                )
