"""The guard's SQL (migration 0006 less_sellable, guard.sql) agrees with daemon/guard.py."""

from __future__ import annotations

import itertools

from daemon.db.pool import Pool
from daemon.guard import less_sellable
from daemon.model import Availability, StoreMode

FLAGS = (True, False, None)
COUNTS = (None, 0, 3, 5)


async def test_sql_less_sellable_equals_python_for_every_value_pair(pool: Pool) -> None:
    values = list(itertools.product(FLAGS, COUNTS))
    cases = [(m, a, b) for m in StoreMode for a in values for b in values]
    rows = await pool.fetch(
        "SELECT less_sellable(c.mode, c.a_available, c.a_quantity, c.b_available, c.b_quantity) AS less"
        " FROM unnest($1::text[], $2::boolean[], $3::integer[], $4::boolean[], $5::integer[])"
        " WITH ORDINALITY AS c (mode, a_available, a_quantity, b_available, b_quantity, n) ORDER BY n",
        [str(m) for m, _, _ in cases],
        [a[0] for _, a, _ in cases],
        [a[1] for _, a, _ in cases],
        [b[0] for _, _, b in cases],
        [b[1] for _, _, b in cases],
    )
    assert len(rows) == len(cases) == 288
    for (mode, a, b), row in zip(cases, rows, strict=True):
        if a[0] is None:  # desired unknown: never written, so never held
            assert row["less"] is False
            continue
        than = None if b[0] is None else Availability(b[0], b[1])
        assert row["less"] is less_sellable(Availability(a[0], a[1]), than, mode), (mode, a, b)
