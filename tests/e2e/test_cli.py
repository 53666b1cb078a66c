"""The `stocksync` command line as a user runs it: subprocesses against a test database and a sandbox."""

from __future__ import annotations

import asyncio
import json
import os
import socket
from pathlib import Path

from daemon.db.pool import Pool
from tests.e2e.daemon_process import STOCKSYNC
from tests.e2e.harness import World, world


async def cli(w: World, *args: str) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STOCKSYNC_")}
    env.update(STOCKSYNC_DATABASE__DSN=w.dsn, STOCKSYNC_CREDENTIALS__DIRECTORY=str(w.credentials_dir))
    process = await asyncio.create_subprocess_exec(
        STOCKSYNC, *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def setup(w: World) -> None:
    await w.add_store("na", policy="report")
    await w.variant("tee", stock={"us1": "out_of_stock"})
    await w.variant("mug", stock={"us1": "in_stock"})
    await w.variant("tote", stock={"au1": "in_stock"})
    await w.map("na", "E-TEE", "tee", (True, None))
    await w.map("na", "E-MUG", "mug", (True, None))
    await w.map("na", "E-TOTE", "tote", (True, None))


async def test_show_desired_dry_run_sync_and_drift_commands(pool: Pool, db_dsn: str, tmp_path: Path) -> None:
    async with world(pool, tmp_path) as w:
        w.dsn = db_dsn
        await setup(w)
        code, out, _ = await cli(w, "show", "desired", "--store", "na", "--format", "json")
        assert code == 0
        desired = {row["external_id"]: (row["available"], row["quantity"]) for row in json.loads(out)}
        assert desired == {"E-TEE": (False, None), "E-MUG": (True, None), "E-TOTE": (None, None)}

        code, out, _ = await cli(w, "sync", "na", "--dry-run", "--format", "json")
        plan = json.loads(out)
        assert code == 0 and plan["dry_run"] and [p["external_id"] for p in plan["writes"]] == ["E-TEE"]
        assert w.writes("na") == [] and await pool.fetchval("SELECT count(*) FROM sync_runs") == 0

        code, out, _ = await cli(w, "sync", "na")
        assert code == 0 and "wrote 1" in out and w.writes("na") == ["E-TEE"]

        await w.control("na", "POST", "/control/edit", {"external_id": "E-MUG", "available": False})
        await cli(w, "sync", "na")
        code, out, _ = await cli(w, "drift", "list", "--store", "na", "--format", "json")
        [record] = json.loads(out)
        assert code == 0 and record["external_id"] == "E-MUG" and record["status"] == "open"
        code, out, _ = await cli(w, "drift", "report", "--format", "csv")
        assert out.splitlines()[0].startswith("id,store_id,sku,external_id") and "E-MUG" in out

        code, out, _ = await cli(w, "drift", "resolve", str(record["id"]), "--reapply")
        assert code == 0 and "reapplied" in out
        assert w.shown("na", "E-MUG")[0] is True  # the desired value was written back
        # found: the write a reapply makes was logged as "desired changed" by a "manual" pass
        logged = await pool.fetchrow(
            "SELECT c.reason, r.trigger FROM change_log c JOIN sync_runs r ON r.store_id = c.store_id"
            " AND r.id = c.run_id WHERE c.external_id = 'E-MUG' ORDER BY c.id DESC LIMIT 1"
        )
        assert logged is not None and (logged["reason"], logged["trigger"]) == (
            "reapplied by support",
            "reapply",
        )
        code, _, err = await cli(w, "drift", "resolve", str(record["id"]), "--accept")
        assert code == 1 and "no open drift record" in err


async def test_accept_pauses_the_variant(pool: Pool, db_dsn: str, tmp_path: Path) -> None:
    async with world(pool, tmp_path) as w:
        w.dsn = db_dsn
        await setup(w)
        await cli(w, "sync", "na")
        await w.control("na", "POST", "/control/edit", {"external_id": "E-MUG", "available": False})
        await cli(w, "sync", "na")
        drift_id = await pool.fetchval("SELECT id FROM drift_records")
        code, _, _ = await cli(w, "drift", "resolve", str(drift_id), "--accept")
        assert code == 0
        assert (
            await pool.fetchval("SELECT sync_enabled FROM synced_variants WHERE external_id = 'E-MUG'")
            is False
        )
        await w.set_stock("mug", {"us1": "out_of_stock"})
        await w.set_stock("mug", {"us1": "in_stock"})
        code, out, _ = await cli(w, "sync", "na")
        assert "paused 1" in out and w.shown("na", "E-MUG")[0] is False  # the store's value is kept


async def test_bad_input_exits_2_naming_the_problem(pool: Pool, db_dsn: str, tmp_path: Path) -> None:
    async with world(pool, tmp_path) as w:
        w.dsn = db_dsn
        # found: an unknown store exited 1 (a runtime failure) although the README promises 2
        for args in (("sync", "nope"), ("sync", "nope", "--dry-run"), ("show", "desired", "--store", "nope")):
            code, out, err = await cli(w, *args)
            assert code == 2 and "no store 'nope'" in err and err.count("\n") == 1, (args, err)
        # found: a report for a store that does not exist said "0 open records"
        for command in ("list", "report"):
            code, out, err = await cli(w, "drift", command, "--store", "nope")
            assert code == 2 and "--store: no store 'nope'" in err and out == "", (command, out, err)
        config = tmp_path / "bad.toml"
        config.write_text("[sync]\nworkers = 0\n")
        code, _, err = await cli(w, "--config", str(config), "config", "check")
        assert code == 2 and "sync.workers" in err
        code, out, _ = await cli(w, "config", "check")
        assert code == 0 and json.loads(out)["http"]["listen"] == "127.0.0.1:8787"


async def test_a_port_in_use_says_so(pool: Pool, db_dsn: str, tmp_path: Path) -> None:
    # found: `stocksync run` on a taken port said "cannot reach the database"
    async with world(pool, tmp_path) as w:
        w.dsn = db_dsn
        (w.credentials_dir / "admin-token").write_text("a-long-enough-admin-token-for-tests-0123")
        (w.credentials_dir / "webhook-secret").write_text("a-long-enough-upstream-secret-for-tests-0")
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            config = tmp_path / "taken.toml"
            config.write_text(f'[http]\nlisten = "127.0.0.1:{port}"\n')
            code, _, err = await cli(w, "--config", str(config), "run")
            assert code == 1 and f"cannot listen on 127.0.0.1:{port} " in err and "already in use" in err
            assert "database" not in err and "Traceback" not in err
            code, _, err = await cli(w, "sandbox", "serve", "--port", str(port))
            assert code == 1 and f"cannot listen on 127.0.0.1:{port} " in err and "already in use" in err


EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "catalog"


async def test_a_newcomer_fills_a_sandbox_from_the_examples_and_syncs_it(
    pool: Pool, db_dsn: str, tmp_path: Path
) -> None:
    # found: a sandbox started by `stocksync sandbox serve` listed no items, and nothing but its source
    # said how to add some, so the first sync of the examples found nothing to write
    async with world(pool, tmp_path) as w:
        w.dsn = db_dsn
        code, _, err = await cli(
            w, "sandbox", "serve", "--items-from", str(EXAMPLES / "mappings.csv"), "--store", "nope"
        )
        assert code == 2 and "no row for store 'nope'" in err
        (w.credentials_dir / "us-shop-token").write_text(json.dumps({"token": "sandbox"}))
        await pool.execute("TRUNCATE regions, facilities CASCADE")  # the world's own catalog
        for kind in ("facilities", "regions", "variants", "stock", "stores", "mappings"):
            code, _, err = await cli(w, "import", kind, str(EXAMPLES / f"{kind}.csv"))
            assert code == 0, err
        code, _, err = await cli(w, "sandbox", "serve", "--port", "0", "--register-as", "nope")
        assert code == 2 and "no store 'nope': import stores first" in err
        env = {k: v for k, v in os.environ.items() if not k.startswith("STOCKSYNC_")}
        env["STOCKSYNC_DATABASE__DSN"] = db_dsn
        sandbox = await asyncio.create_subprocess_exec(
            STOCKSYNC, "sandbox", "serve", "--port", "0", "--register-as", "us-shop",
            "--items-from", str(EXAMPLES / "mappings.csv"), "--store", "us-shop",
            env=env, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            assert sandbox.stdout is not None
            line = (await sandbox.stdout.readline()).decode()
            assert "item(s) added" in line, line
            url = line.split()[3]  # "sandbox store on http://127.0.0.1:PORT ..."
            settings = await pool.fetchval("SELECT settings FROM stores WHERE id = 'us-shop'")
            assert settings == {"base_url": url}  # a free port, recorded: nothing in stores.csv to keep free
            code, out, err = await cli(w, "sync", "us-shop")
            assert code == 0 and "not found 0" in out and "wrote 0" not in out, out + err
        finally:
            sandbox.terminate()
            await sandbox.wait()
