"""The ONE batch runner every platform's apply() goes through, and helpers to build its results.

- apply() is given at most `max_write_batch` changes (the engine packs them by write unit) and never
  splits them again; more is a programming error.
- Items observe() marked as impossible to enforce (platform_ref[CANNOT_ENFORCE]) are refused as
  problems without a request.
- The rest is sent once per write unit; failures of a whole request map the same way on every
  platform: 401/403 → auth (the remaining units are not sent: they cannot pass either), other 4xx →
  permanent, retries exhausted / 5xx / timeouts / a malformed answer → temporary.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

from daemon.model import ApplyResult, Change, ItemFailure, Observed
from reconcilers.capabilities import Capabilities
from reconcilers.transport import AuthError, PermanentError, TemporaryError

T = TypeVar("T")
# the platform_ref key observe() sets, with the reason, on an item that cannot be enforced here
CANNOT_ENFORCE = "cannot_enforce"

SendUnit = Callable[[Sequence[Change]], Awaitable[ApplyResult]]


def chunked(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    if size < 1:
        raise ValueError("batch size must be at least 1")
    for start in range(0, len(items), size):
        yield items[start : start + size]


def unit_batches(changes: Sequence[Change], capabilities: Capabilities) -> Iterator[Sequence[Change]]:
    """The engine's write batches: changes grouped by the platform's write unit (capabilities.unit_of),
    each unit cut into max_write_batch slices, so no unit spans two apply() calls and write requests
    equal the per-unit floor (Σ ⌈unit size / batch⌉); a store-wide unit is plain slicing."""
    units: dict[str, list[Change]] = {}
    for change in changes:
        units.setdefault(capabilities.unit_of(change), []).append(change)
    for members in units.values():
        yield from chunked(members, capabilities.max_write_batch)


def merge_results(results: Iterable[ApplyResult]) -> ApplyResult:
    confirmed: list[Observed] = []
    failed: list[ItemFailure] = []
    for result in results:
        confirmed.extend(result.confirmed)
        failed.extend(result.failed)
    return ApplyResult(tuple(confirmed), tuple(failed))


def all_failed(changes: Iterable[Change], reason: str, *, permanent: bool, auth: bool = False) -> ApplyResult:
    """Every change of a batch failed for one reason (a whole-request error)."""
    return ApplyResult(
        failed=tuple(ItemFailure(c.external_id, reason, permanent=permanent, auth=auth) for c in changes)
    )


def cannot_enforce(ref: Mapping[str, Any] | None, reason: str) -> dict[str, Any]:
    """`ref` marked so apply() reports the item as a problem instead of writing it."""
    return {**(ref or {}), CANNOT_ENFORCE: reason}


def problem_of(change: Change) -> str | None:
    reason = (change.platform_ref or {}).get(CANNOT_ENFORCE)
    return str(reason)[:300] if reason else None


async def run_batch(capabilities: Capabilities, changes: Sequence[Change], send: SendUnit) -> ApplyResult:
    """apply() for every platform: `send` writes the changes of one write unit in one request (it may
    raise transport errors; it maps per-item answers itself)."""
    if len(changes) > capabilities.max_write_batch:
        raise ValueError(
            f"{capabilities.platform}: apply() got {len(changes)} changes, more than max_write_batch "
            f"{capabilities.max_write_batch}: the engine packs batches"
        )
    problems = [ItemFailure(c.external_id, p, problem=True) for c in changes if (p := problem_of(c))]
    units: dict[str, list[Change]] = {}
    for change in changes:
        if problem_of(change) is None:
            units.setdefault(capabilities.unit_of(change), []).append(change)
    results = [ApplyResult(failed=tuple(problems))]
    refused: AuthError | None = None
    for unit in units.values():
        if refused is not None:
            results.append(all_failed(unit, f"not sent: {refused}", permanent=True, auth=True))
            continue
        try:
            results.append(await send(unit))
        except AuthError as exc:  # the credential, not the items: nothing else of this store passes
            refused = exc
            results.append(all_failed(unit, str(exc), permanent=True, auth=True))
        except PermanentError as exc:
            results.append(all_failed(unit, str(exc), permanent=True))
        except TemporaryError as exc:
            results.append(all_failed(unit, str(exc), permanent=False))
    return merge_results(results)
