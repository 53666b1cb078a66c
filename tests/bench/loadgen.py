"""The latency scenario's load generator, run as its own process (`python -m tests.bench.loadgen`)
so its CPU is not the daemon's: signs and posts upstream events at a fixed rate, then writes what it
sent (external id, quantity, wall-clock time sent) to a JSON file for the parent to match with the
writes the stores received.

Event i sets a new us1 quantity of variant i, cycling over the catalog; at ≤ 200 events/s each request
carries one event, above that rate/100 events (100 requests/s), as a busy upstream batches them.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from reconcilers.signatures import sign_stocksync
from tests.bench import catalog as bench_catalog


def events_per_request(rate: int) -> int:
    return max(1, rate // 100) if rate > 200 else 1


class Sender:
    """Signs and posts events; remembers when each (external id, quantity) was asked for."""

    def __init__(
        self, session: aiohttp.ClientSession, url: str, secret: str, variants: int, round_no: int
    ) -> None:
        self._session = session
        self._url = url
        self._secret = secret
        self._variants = variants
        self._round = round_no
        self._next = 1
        self.sent: list[tuple[str, int, float]] = []
        self.refused = 0
        self.answer_s: list[float] = []

    def events(self, count: int) -> list[dict[str, Any]]:
        batch = []
        for _ in range(count):
            i = self._next
            self._next = self._next % self._variants + 1
            quantity = bench_catalog.base_quantity(i) + 1000 * self._round + self._next
            batch.append(
                {
                    "event_id": f"r{self._round}-{i}-{quantity}",
                    "variant_id": f"v{i:07d}",
                    "facility_id": "us1",
                    "status": "in_stock",
                    "quantity": quantity,
                    "occurred_at": datetime.now(UTC).isoformat(),
                }
            )
            self.sent.append((bench_catalog.external_id(i), quantity, time.time()))
        return batch

    async def post(self, events: list[dict[str, Any]]) -> None:
        body = json.dumps({"events": events}).encode()
        ts = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "X-Stocksync-Timestamp": str(ts),
            "X-Stocksync-Signature": sign_stocksync(self._secret, ts, body),
        }
        started = time.perf_counter()
        try:
            async with self._session.post(
                self._url + "/v1/stock-events", data=io.BytesIO(body), headers=headers
            ) as response:
                await response.read()
                if response.status != 202:
                    self.refused += len(events)
        except aiohttp.ClientError:
            self.refused += len(events)
        self.answer_s.append(time.perf_counter() - started)


async def send(
    url: str, secret: str, rate: int, seconds: float, variants: int, round_no: int
) -> dict[str, Any]:
    per_request = events_per_request(rate)
    interval = per_request / rate
    ticks = int(seconds * rate / per_request)
    posts: set[asyncio.Task[None]] = set()
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        sender = Sender(session, url, secret, variants, round_no)
        started = time.perf_counter()
        for tick in range(ticks):
            await asyncio.sleep(max(0.0, started + tick * interval - time.perf_counter()))
            task = asyncio.create_task(sender.post(sender.events(per_request)))
            posts.add(task)
            task.add_done_callback(posts.discard)
        send_s = time.perf_counter() - started
        await asyncio.gather(*posts)
    answers = sorted(sender.answer_s)
    return {
        "sent": sender.sent,
        "refused": sender.refused,
        "send_s": send_s,
        "events_per_request": per_request,
        "answer_p99_ms": round(answers[int(len(answers) * 0.99)] * 1000, 1) if answers else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.loadgen")
    parser.add_argument("--url", required=True)
    parser.add_argument("--secret-file", type=Path, required=True)
    parser.add_argument("--rate", type=int, required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--variants", type=int, required=True)
    parser.add_argument("--round", type=int, required=True)
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args()
    result = asyncio.run(
        send(args.url, args.secret_file.read_text(), args.rate, args.seconds, args.variants, args.round)
    )
    args.output.write_text(json.dumps(result))


if __name__ == "__main__":
    main()
