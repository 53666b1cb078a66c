"""CPU seconds of the parts of a benchmark, read from /proc: a figure that does not depend on the
machine's speed as much as wall-clock latency does, and that shows which side a run was bound by.

PostgreSQL is counted as its postmaster plus every live child (backends, writers, autovacuum) plus what
exited children had used (the postmaster's cutime/cstime), on whichever server the DSN names, as long as
it runs on this host. Cores are split between the measured side and the load side with CPU affinity.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import asyncpg

_TICKS = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name (field 2) may hold spaces and parentheses: split after its closing one
    return raw[raw.rindex(")") + 2 :].split()


def process_cpu_s(pid: int, *, with_reaped_children: bool = False) -> float:
    """utime + stime of a process (0 if it is gone), plus its waited-for children's when asked."""
    fields = _stat_fields(pid)
    if fields is None:
        return 0.0
    # after the name: state ppid pgrp ... utime is the 12th (index 11), stime 13th, cutime, cstime
    ticks = int(fields[11]) + int(fields[12])
    if with_reaped_children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / _TICKS


def children_of(parent: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields is not None and int(fields[1]) == parent:
                found.append(int(entry.name))
    return found


async def postmaster_pid(dsn: str) -> int | None:
    """The server's postmaster, if it runs on this host (the parent of our backend)."""
    conn = await asyncpg.connect(dsn)
    try:  # read while our backend lives: it exits with the connection
        fields = _stat_fields(int(await conn.fetchval("SELECT pg_backend_pid()")))
    finally:
        await conn.close()
    return int(fields[1]) if fields is not None else None


def server_cpu_s(postmaster: int) -> float:
    return process_cpu_s(postmaster, with_reaped_children=True) + sum(
        process_cpu_s(child) for child in children_of(postmaster)
    )


@dataclass(frozen=True)
class Cores:
    """Which cores each side may use; the load side gets the last core when there are two or more."""

    measured: frozenset[int]
    load: frozenset[int]

    def describe(self) -> str:
        return f"stocksync daemon on cores {sorted(self.measured)}, load generator and fake stores on {sorted(self.load)}, PostgreSQL unpinned"


def split_cores() -> Cores | None:
    available = sorted(os.sched_getaffinity(0))
    if len(available) < 2:
        return None
    return Cores(frozenset(available[:-1]), frozenset(available[-1:]))


def pin(pids: Iterable[int], cores: frozenset[int]) -> None:
    for pid in pids:
        try:
            os.sched_setaffinity(pid, cores)
        except OSError:  # the process ended meanwhile
            pass
