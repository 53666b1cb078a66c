"""Issue 14, engine side: batches packed per write unit, problems that are not failures, and no more
batches after the store refused our credential. Real PostgreSQL and sandbox stores; the reconciler is
wrapped only to answer the way a platform module of the kit answers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from daemon.db.pool import Pool
from daemon.engine import Engine
from daemon.model import ApplyResult, Availability, Change, ItemFailure, StoreConfig
from reconcilers.batching import unit_batches
from reconcilers.capabilities import Capabilities, RateBudget, StockModel, WriteUnit
from reconcilers.interface import Reconciler
from tests.e2e.harness import World, world

IN = "in_stock"


def _parent(external_id: str) -> str:
    return external_id.split(":")[0]


PER_PARENT = Capabilities(
    platform="woo-like",
    stock_model=StockModel.BOTH,
    max_read_batch=100,
    max_write_batch=4,
    rate_budget=RateBudget(requests_per_second=10),
    webhook_scheme=None,
    write_unit=WriteUnit.PARENT_PRODUCT,
    unit_key=_parent,
)


def test_batches_never_split_a_write_unit_and_meet_the_per_unit_floor() -> None:
    # parents of 3, 5 and 2 variations, interleaved as a pass may find them, batches of at most 4
    ids = [f"{p}:{v}" for v in range(5) for p, n in (("a", 3), ("b", 5), ("c", 2)) if v < n]
    changes = [Change(i, target=Availability(False)) for i in ids]
    batches = list(unit_batches(changes, PER_PARENT))
    assert all(len({_parent(c.external_id) for c in batch}) == 1 for batch in batches)
    assert all(len(batch) <= 4 for batch in batches)
    assert len(batches) == 1 + 2 + 1  # ⌈3/4⌉ + ⌈5/4⌉ + ⌈2/4⌉; slicing the mixed list first made 5
    assert sorted(c.external_id for b in batches for c in b) == sorted(ids)


class _Answering(Engine):
    """The real sandbox reconciler, with apply() answering per item as told (and counting calls)."""

    def __init__(self, w: World, answer: dict[str, ItemFailure]) -> None:
        super().__init__(w.pool, w.engine._factory, w.engine._credentials, w.engine._config)
        self.answer = answer
        self.calls: list[list[str]] = []

    def reconciler_for(self, store: StoreConfig) -> Reconciler:
        real = super().reconciler_for(store)
        outer = self

        class Answering:
            capabilities = replace(real.capabilities, max_write_batch=2)
            observe = real.observe

            async def apply(self, changes: Sequence[Change]) -> ApplyResult:
                outer.calls.append([c.external_id for c in changes])
                refused = [outer.answer[c.external_id] for c in changes if c.external_id in outer.answer]
                if any(f.auth for f in refused):
                    return ApplyResult(
                        failed=tuple(replace(refused[0], external_id=c.external_id) for c in changes)
                    )
                rest = [c for c in changes if c.external_id not in outer.answer]
                written = await real.apply(rest) if rest else ApplyResult()
                return ApplyResult(written.confirmed, written.failed + tuple(refused))

        return Answering()  # type: ignore[return-value]


async def _store_with_six_to_write(w: World) -> None:
    await w.add_store("na")
    for i in range(6):
        await w.variant(f"v{i}", stock={"us1": IN})
        await w.map("na", f"E{i}", f"v{i}", (False, None))


async def test_an_item_that_cannot_be_enforced_is_reported_not_failed(pool: Pool, tmp_path: Path) -> None:
    async with world(pool, tmp_path) as w:
        await _store_with_six_to_write(w)
        engine = _Answering(w, {"E3": ItemFailure("E3", "stock managed by the parent product", problem=True)})
        report = await engine.run_pass("na")
        assert report.outcome == "ok", "a problem must not fail the pass (nor exit 1, nor open the circuit)"
        assert (report.counts.changed, report.counts.failed, report.skipped.get("problem")) == (5, 0, 1)
        assert sum(1 for call in engine.calls for ext in call if ext == "E3") == 1  # never retried in-pass
        row = await pool.fetchrow(
            "SELECT last_error, value_problem FROM store_state WHERE external_id = 'E3'"
        )
        assert row is not None and row["value_problem"] and "parent product" in row["last_error"]
        outcome = await pool.fetchval("SELECT outcome FROM change_log WHERE external_id = 'E3'")
        assert outcome == "rejected"


async def test_after_a_refused_credential_no_further_batch_is_sent(pool: Pool, tmp_path: Path) -> None:
    async with world(pool, tmp_path) as w:
        await _store_with_six_to_write(w)
        engine = _Answering(w, {"E0": ItemFailure("E0", "HTTP 401: invalid token", auth=True)})
        report = await engine.run_pass("na")
        assert len(engine.calls) == 1, f"sent {len(engine.calls)} batches after a 401"
        assert report.outcome == "failed" and report.counts.failed == 6
        assert w.writes("na") == []
