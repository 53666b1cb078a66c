"""Benchmarked parts in their own processes: a sandbox store server, a `stocksync` command with its RSS."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from tests.bench.catalog import TOKEN

STOCKSYNC = str(Path(sys.executable).with_name("stocksync"))


@asynccontextmanager
async def sandbox_process(workdir: Path, port: int, *args: str) -> AsyncIterator[str]:
    """`stocksync sandbox serve` on 127.0.0.1:port (so the store does not share our core)."""
    token_file = workdir / "sandbox-token"
    token_file.write_text(TOKEN)
    process = await asyncio.create_subprocess_exec(
        STOCKSYNC,
        "sandbox",
        "serve",
        "--port",
        str(port),
        "--token-file",
        str(token_file),
        *args,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        await _wait_answering(url)
        yield url
    finally:
        process.terminate()
        await process.wait()


async def _wait_answering(url: str, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            try:
                async with session.get(f"{url}/control/stats", headers={"Authorization": f"Bearer {TOKEN}"}):
                    return
            except aiohttp.ClientError:
                await asyncio.sleep(0.05)
    raise RuntimeError(f"sandbox at {url} did not answer in {timeout_s} s")


@dataclass(frozen=True)
class Finished:
    returncode: int
    wall_s: float
    peak_rss_mb: float
    output: str


def run_measured(args: list[str], env: dict[str, str]) -> Finished:
    """Runs a command to completion and reports its own peak RSS.

    The peak is the kernel's high-water mark (VmHWM) of the executed program, polled while it runs:
    wait4's ru_maxrss would count the benchmark's own pages that the forked child shares before exec.
    """
    started = time.perf_counter()
    process = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    peak_kib = 0
    stop = threading.Event()

    def watch() -> None:
        nonlocal peak_kib
        while not stop.is_set():
            peak_kib = max(peak_kib, _high_water_kib(process.pid))
            stop.wait(0.02)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    output, _ = process.communicate()
    stop.set()
    watcher.join()
    return Finished(
        process.returncode, time.perf_counter() - started, peak_kib / 1024, output.decode(errors="replace")
    )


def _high_water_kib(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0
