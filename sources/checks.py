"""Pure checks of a snapshot before it is applied: every row inside what its source is the truth for.

A row for a facility outside the source's facilities, for a variant outside its mappings (when it has
mappings), for a variant we do not know, with a quantity its variant's kind cannot have, or twice in
one snapshot refuses the WHOLE snapshot with a SourceError naming the row: nothing of a bad pull is
applied. No I/O: the variant kinds are looked up by the caller.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from daemon.model import VariantKind
from sources.interface import SourceConfig, SourceError, SourceStock


def row_place(row: SourceStock, index: int) -> str:
    """Where a row came from: the reader's own place (`feed:14`) when it gave one, else its index."""
    return row.where or f"rows[{index}]"


def check_coverage(source: SourceConfig, rows: Sequence[SourceStock]) -> None:
    """Refuse rows outside the source's facilities or mappings, and duplicates."""
    covered = set(source.variants.values())
    seen: dict[tuple[str, str], str] = {}
    for index, row in enumerate(rows):
        where = row_place(row, index)
        if row.facility_id not in source.facilities:
            raise SourceError(
                f"{where}: facility_id",
                f"facility {row.facility_id!r} is not one of source {source.id}'s facilities "
                f"({' '.join(sorted(source.facilities))})",
            )
        if covered and row.variant_id not in covered:
            raise SourceError(
                f"{where}: variant_id", f"variant {row.variant_id!r} is not in source {source.id}'s mappings"
            )
        key = (row.variant_id, row.facility_id)
        if key in seen:
            raise SourceError(f"{where}: variant_id,facility_id", f"duplicate of {seen[key]}")
        seen[key] = where


def check_kinds(rows: Sequence[SourceStock], kinds: Mapping[str, str]) -> None:
    """Known variants only; warehouse rows counted, pod rows not (as the `stock` import requires)."""
    for index, row in enumerate(rows):
        where = row_place(row, index)
        kind = kinds.get(row.variant_id)
        if kind is None:
            raise SourceError(f"{where}: variant_id", f"unknown variant {row.variant_id!r}")
        if kind == VariantKind.WAREHOUSE and row.quantity is None:
            raise SourceError(f"{where}: quantity", "required for a warehouse variant (a whole number >= 0)")
        if kind == VariantKind.POD and row.quantity is not None:
            raise SourceError(f"{where}: quantity", "must be empty for a pod variant")
