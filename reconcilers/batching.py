"""Chunk changes by a platform's batch limit and merge per-batch results."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import TypeVar

from daemon.model import ApplyResult, Change, ItemFailure, Observed

T = TypeVar("T")


def chunked(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    if size < 1:
        raise ValueError("batch size must be at least 1")
    for start in range(0, len(items), size):
        yield items[start : start + size]


def merge_results(results: Iterable[ApplyResult]) -> ApplyResult:
    confirmed: list[Observed] = []
    failed: list[ItemFailure] = []
    for result in results:
        confirmed.extend(result.confirmed)
        failed.extend(result.failed)
    return ApplyResult(tuple(confirmed), tuple(failed))


def all_failed(changes: Iterable[Change], reason: str, *, permanent: bool) -> ApplyResult:
    """Every change of a batch failed for one reason (a whole-request error)."""
    return ApplyResult(failed=tuple(ItemFailure(c.external_id, reason, permanent=permanent) for c in changes))
