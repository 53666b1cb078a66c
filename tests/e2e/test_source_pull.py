"""Pull inventory end to end: a local feed with an ETag, a real daemon (or the real CLI) and a sandbox
store. A requested pull writes the change to the store; a second pull gets a 304 and changes nothing."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from daemon.db.pool import Pool
from tests.e2e.daemon_process import STOCKSYNC, daemon_env, eventually, free_port, running_daemon
from tests.e2e.feed_server import Feed, serving
from tests.e2e.harness import World, world

IN, OUT = "in_stock", "out_of_stock"
ROWS = [{"variant_id": "tee", "facility_id": "us1", "status": OUT, "quantity": None}]


async def catalog(w: World, feed: Feed) -> None:
    await w.add_store("na")
    await w.variant("tee", stock={"us1": IN})
    await w.variant("mug", stock={"us1": IN})
    await w.map("na", "E-TEE", "tee", (True, None))
    await w.map("na", "E-MUG", "mug", (True, None))
    await w.pool.execute(
        "INSERT INTO sources (id, kind, settings, facilities) VALUES ('feed1', 'http_feed', $1, '{us1}')",
        {"url": feed.url},
    )
    # not due: only the requests under test pull it
    await w.pool.execute(
        "INSERT INTO source_state (source_id, next_pull_at) VALUES ('feed1', now() + interval '1 day')"
    )
    await w.pool.execute("UPDATE store_schedule SET next_pass_at = now() + interval '1 day'")


async def pulls_done(pool: Pool) -> int:
    return int(
        await pool.fetchval(
            "SELECT count(*) FROM source_state WHERE pull_requested_at IS NULL AND last_success_at IS NOT NULL"
        )
    )


async def test_a_requested_pull_reaches_the_store_and_a_304_changes_nothing(
    pool: Pool, db_dsn: str, tmp_path: Path
) -> None:
    async with serving(ROWS) as feed, world(pool, tmp_path) as w:
        await catalog(w, feed)
        await pool.execute(
            "INSERT INTO sources (id, kind, settings, facilities, enabled) VALUES ('off1', 'http_feed', $1, '{us1}', false)",
            {"url": feed.url},
        )
        await pool.execute("INSERT INTO source_state (source_id) VALUES ('off1')")
        async with running_daemon(db_dsn, tmp_path, w.credentials_dir) as daemon:
            disabled = await daemon.admin("POST", "/v1/sources/off1/pull")
            assert disabled[0] == 409 and "source off1 is disabled" in disabled[1]["error"]
            unknown = await daemon.admin("POST", "/v1/sources/nope/pull")
            assert unknown[0] == 404 and "no source 'nope'" in unknown[1]["error"]
            assert (await daemon.admin("POST", "/v1/sources/feed1/pull", token="wrong"))[0] == 401
            status, body = await daemon.admin("POST", "/v1/sources/feed1/pull")
            assert status == 202 and body == {"source_id": "feed1", "pull_requested": True}
            assert await eventually(lambda: _written(w, "E-TEE"), 20), _log_lines(daemon.logs())
            assert w.shown("na", "E-TEE")[0] is False and w.writes("na") == ["E-TEE"]
            runs = await pool.fetchval("SELECT count(*) FROM sync_runs WHERE trigger = 'source'")
            status, _ = await daemon.admin("POST", "/v1/sources/feed1/pull")
            assert status == 202
            assert await eventually(lambda: _served(feed, 2), 20)
            assert await eventually(lambda: pulls_done(pool), 20)
            status, metrics = await daemon.get("/metrics")
            headers = {"Authorization": "Bearer test-admin-token"}
            async with daemon.session.get(daemon.url + "/drift", headers=headers) as page:
                drift_page = await page.text()
            logs = daemon.logs()
        assert feed.served == [200, 304]
        assert w.writes("na") == ["E-TEE"]  # the 304 wrote nothing
        assert await pool.fetchval("SELECT count(*) FROM sync_runs WHERE trigger = 'source'") == runs
        assert status == 200
        assert 'stocksync_source_pulls_total{kind="http_feed",outcome="applied"} 1.0' in metrics
        assert 'stocksync_source_pulls_total{kind="http_feed",outcome="not_modified"} 1.0' in metrics
        assert 'stocksync_source_rows{source_id="feed1"} 1.0' in metrics
        assert 'stocksync_source_stale{source_id="feed1"} 0.0' in metrics
        assert 'stocksync_source_pull_interval_seconds{source_id="feed1"} 14400.0' in metrics
        assert "<h2>Upstream sources</h2>" in drift_page
        assert "<td>feed1</td><td>http_feed</td>" in drift_page and "s ago (" in drift_page
        assert "<td>1</td><td>fresh</td>" in drift_page
        pulled = [json.loads(line) for line in logs.splitlines() if '"source_pulled"' in line]
        assert [(p["rows"], p["changed"], p["not_modified"]) for p in pulled] == [(1, 1, False), (0, 0, True)]


async def _written(w: World, external_id: str) -> bool:
    return external_id in w.writes("na")


async def _served(feed: Feed, count: int) -> bool:
    return len(feed.served) >= count


async def test_stocksync_pull_writes_the_store_without_a_daemon(
    pool: Pool, db_dsn: str, tmp_path: Path
) -> None:
    async with serving(ROWS) as feed, world(pool, tmp_path) as w:
        await catalog(w, feed)
        env = daemon_env(db_dsn, w.credentials_dir, free_port())
        first = await _cli(env, tmp_path, "pull", "feed1")
        assert first[0] == 0, first[2]
        assert "source feed1: pulled 1 rows, 1 changed, 1 store items queued" in first[1]
        assert "store na: ok" in first[1]
        assert w.shown("na", "E-TEE")[0] is False
        second = await _cli(env, tmp_path, "pull", "feed1")
        assert second[0] == 0 and "not modified (304); nothing changed" in second[1]
        missing = await _cli(env, tmp_path, "pull", "nope")
        assert missing[0] == 2 and "argument: SOURCE: no source 'nope'" in missing[2]
    assert feed.served == [200, 304]
    assert w.writes("na") == ["E-TEE"]


async def test_a_bad_feed_applies_nothing_and_the_cli_says_where(
    pool: Pool, db_dsn: str, tmp_path: Path
) -> None:
    bad = [*ROWS, {"variant_id": "mug", "facility_id": "us1", "status": "gone", "quantity": None}]
    async with serving(bad) as feed, world(pool, tmp_path) as w:
        await catalog(w, feed)
        env = daemon_env(db_dsn, w.credentials_dir, free_port())
        code, out, _ = await _cli(env, tmp_path, "pull", "feed1")
    assert code == 1 and "refused, nothing applied: feed:1: status: 'gone' is not one of" in out
    assert await pool.fetchval("SELECT status FROM facility_stock WHERE variant_id = 'tee'") == IN
    state = await pool.fetchrow("SELECT last_error, last_success_at FROM source_state")
    assert state is not None
    assert state["last_success_at"] is None and "feed:1: status" in state["last_error"]
    assert w.writes("na") == []


async def _cli(env: dict[str, str], cwd: Path, *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        STOCKSYNC, *args, env=env, cwd=cwd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def _log_lines(logs: str) -> str:
    return "\n".join(line for line in logs.splitlines() if "apscheduler" not in line or '"error"' in line)[
        -4000:
    ]
