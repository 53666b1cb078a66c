"""What every platform's wire tests build their reconciler on: the shared transport, unpaced, with
quick retries (the tests assert requests, not timing)."""

from __future__ import annotations

from typing import Any

from reconcilers.ratelimit import LeakyBucketPacer
from reconcilers.transport import RetryPolicy, Transport


def quick_transport(session: Any, platform: str, store_id: str, *, attempts: int = 3) -> Transport:
    return Transport(
        session,
        platform=platform,
        store_id=store_id,
        pacer=LeakyBucketPacer(1000, 1000),
        retry=RetryPolicy(attempts=attempts, base_delay=0.01),
    )
