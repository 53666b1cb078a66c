"""Import files (CSV or JSON) parsed and validated into typed rows, each remembering its physical line.

Pure: reads one file, never the database. Checks that need the database (does a referenced id exist,
is a variant pod or warehouse) are pure functions here too, fed with what the db layer looked up.
Errors name FILE:LINE, the column and the reason; a credential or settings value is never echoed.
"""

from __future__ import annotations

import csv
import importlib
import io
import json
import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from daemon.credentials import store_credential_problem
from daemon.errors import InputError
from daemon.model import DriftPolicy, StockStatus, StoreMode, VariantKind
from daemon.text import NOT_STORABLE, storable_text

KINDS = ("facilities", "regions", "variants", "stock", "stores", "mappings", "sources", "source-mappings")

_COUNTRY = re.compile(r"^[A-Z]{2}$")
_STORE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")  # the stores.id CHECK of the schema
# The syntax of daemon.credentials._NAME, capped at 64 characters: a longer "name" is most likely a
# pasted token, and the error must then not echo it.
_CREDENTIAL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
_DIGITS = re.compile(r"^[0-9]+$")
_INT_MAX = 2**31 - 1  # PostgreSQL integer
_JSON_SPACE = " \t\r\n"
_SHOWN_CHARS = 40
# Ids are primary keys: PostgreSQL refuses an index row over ~2.7 kB, and 500 characters of up to
# 4 bytes stay below it (no real id comes near).
_ID_CHARS = 500


@dataclass(frozen=True, slots=True)
class ImportRow:
    """One validated row: its physical line in the file and its typed values by column."""

    line: int
    values: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class ImportCounts:
    """What an import did: rows in the file, of which newly inserted and updated; the rest unchanged."""

    rows: int
    new: int = 0
    updated: int = 0
    queued: int = 0  # store items whose desired value now differs from what was applied
    pulls: int = 0  # sources asked for a pull because the import changed the catalog they cover

    @property
    def unchanged(self) -> int:
        return self.rows - self.new - self.updated

    def summary(self, file_name: str) -> str:
        queued = f"; {self.queued} store items queued to write" if self.queued else ""
        pulls = f"; {self.pulls} source pulls requested" if self.pulls else ""
        return (
            f"imported {file_name}: {self.rows} rows "
            f"({self.new} new, {self.updated} updated, {self.unchanged} unchanged){queued}{pulls}"
        )


Converter = Callable[[Any], Any]


class _BadValue(Exception):
    """A converter's reason for refusing a value; becomes an InputError naming file, line and column."""


def _empty(raw: Any) -> bool:
    return raw is None or (isinstance(raw, str) and raw.strip() == "")


def _shown(raw: Any) -> str:
    text = raw if isinstance(raw, str) else json.dumps(raw)
    return repr(text if len(text) <= _SHOWN_CHARS else text[:_SHOWN_CHARS] + "…")


def _column_name(name: str) -> str:
    """A column name as written when it is plain, else quoted and shortened (empty, blanks, control chars)."""
    plain = name and name.isprintable() and name == name.strip() and len(name) <= _SHOWN_CHARS
    return name if plain else _shown(name)


def _text(raw: Any) -> str:
    if not isinstance(raw, str):
        raise _BadValue("must be a string")
    if not storable_text(raw):
        raise _BadValue(NOT_STORABLE)
    return raw.strip()


def _required_text(raw: Any) -> str:
    if _empty(raw):
        raise _BadValue("must not be empty")
    return _text(raw)


def _id(raw: Any) -> str:
    value = _required_text(raw)
    if len(value) > _ID_CHARS:
        raise _BadValue(f"{_shown(value)} is too long for an id (at most {_ID_CHARS} characters)")
    return value


def _optional_text(raw: Any) -> str:
    return "" if _empty(raw) else _text(raw)


def _country(raw: Any) -> str:
    value = _required_text(raw)
    if not _COUNTRY.match(value):
        raise _BadValue(f"{_shown(value)} is not an ISO 3166 alpha-2 code in upper case (e.g. US)")
    return value


def _store_id(raw: Any, what: str = "store") -> str:
    value = _required_text(raw)
    if not _STORE_ID.match(value):
        raise _BadValue(
            f"{_shown(value)} is not a {what} id (letters, digits, _ . -; starts with a letter or digit; "
            "at most 64 characters)"
        )
    return value


def _source_id(raw: Any) -> str:
    return _store_id(raw, "source")


def _choice(enum: type[StrEnum], default: StrEnum | None = None) -> Converter:
    allowed = "|".join(member.value for member in enum)

    def convert(raw: Any) -> StrEnum:
        if _empty(raw):
            if default is None:
                raise _BadValue(f"must not be empty (one of {allowed})")
            return default
        try:
            return enum(_text(raw))
        except ValueError:
            raise _BadValue(f"{_shown(raw)} is not one of {allowed}") from None

    return convert


def _whole_number(raw: Any, minimum: int) -> int:
    if isinstance(raw, bool):
        raise _BadValue(f"must be a whole number >= {minimum}")
    if isinstance(raw, int):
        value = raw
    elif isinstance(raw, str) and _DIGITS.match(raw.strip()):
        value = int(raw.strip())
    else:
        raise _BadValue(f"{_shown(raw)} is not a whole number >= {minimum}")
    if not minimum <= value <= _INT_MAX:
        raise _BadValue(f"{value} is out of range ({minimum}..{_INT_MAX})")
    return value


def _number(minimum: int, default: int | None) -> Converter:
    """A whole number; empty gives `default` (None: the column is optional-valued)."""

    def convert(raw: Any) -> int | None:
        return default if _empty(raw) else _whole_number(raw, minimum)

    return convert


def _enabled(raw: Any) -> bool:
    if _empty(raw):
        return True
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in ("true", "false"):
        return raw.strip().lower() == "true"
    raise _BadValue(f"{_shown(raw)} is not true or false")


def _settings(raw: Any) -> dict[str, Any]:
    # The value is never shown: settings may hold things a user would not paste into a ticket.
    if _empty(raw):
        return {}
    value = raw
    if isinstance(raw, str):
        try:
            value = _decoder().decode(raw)
        except json.JSONDecodeError as exc:
            raise _BadValue(f"not valid JSON ({exc.msg} at character {exc.pos + 1})") from None
        except _DuplicateKey as exc:
            raise _BadValue(f"the key {_shown(exc.key)} appears twice in one object") from None
        except (ValueError, RecursionError):  # more than 4,300 digits; nested deeper than Python goes
            raise _BadValue("not JSON stocksync can read (a number or nesting too large)") from None
    if not isinstance(value, dict):
        raise _BadValue('must be a JSON object, e.g. {"base_url": "https://…"}')
    if (problem := _unstorable_json(value)) is not None:
        raise _BadValue(problem)  # PostgreSQL's jsonb would refuse it
    return value


def _unstorable_json(value: Any) -> str | None:
    """Why PostgreSQL's jsonb would refuse a parsed value (NUL, lone surrogates, NaN, Infinity), or None."""
    if isinstance(value, str):
        return None if storable_text(value) else NOT_STORABLE
    if isinstance(value, float) and not math.isfinite(value):
        return f"{json.dumps(value)} is not a number PostgreSQL can store (only finite numbers)"
    if isinstance(value, dict):
        parts: list[Any] = [*value, *value.values()]
    elif isinstance(value, list):
        parts = value
    else:
        return None
    return next((p for p in map(_unstorable_json, parts) if p is not None), None)


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # json keeps the last of two equal keys silently; which one the user meant is not ours to guess
    value: dict[str, Any] = {}
    for key, item in pairs:
        if key in value:
            raise _DuplicateKey(key)
        value[key] = item
    return value


def _decoder() -> json.JSONDecoder:
    return json.JSONDecoder(object_pairs_hook=_unique_keys)


def _credential(raw: Any) -> str:
    # Never echo the value: a wrong one is most likely the secret itself, pasted instead of its name.
    if _empty(raw):
        raise _BadValue("must not be empty (the name of a credential file)")
    if not isinstance(raw, str) or not _CREDENTIAL_NAME.match(raw.strip()):
        raise _BadValue(
            "is not a credential name (letters, digits, _ . @ -, at most 64 characters); "
            "put the secret in the credentials directory and give its file name here "
            "(the value is not shown in case it is a secret)"
        )
    if (problem := store_credential_problem(raw.strip())) is not None:
        raise _BadValue(problem)
    return raw.strip()


def _known_platforms() -> frozenset[str]:
    # Late and by name: the registry imports every platform module, which parsing other kinds of
    # file should not pay for.
    registry = importlib.import_module("reconcilers")
    return frozenset(registry.known_platforms())


def _platform(raw: Any) -> str:
    value = _required_text(raw)
    known = _known_platforms()
    if value not in known:
        raise _BadValue(f"{_shown(value)} is not a known platform ({', '.join(sorted(known))})")
    return value


def _source_kind(raw: Any) -> str:
    # Late and by name, like platforms: the source registry is not needed to parse other files.
    value = _required_text(raw)
    known = frozenset(importlib.import_module("sources").known_kinds())
    if value not in known:
        raise _BadValue(f"{_shown(value)} is not a known source kind ({', '.join(sorted(known))})")
    return value


def _optional_credential(raw: Any) -> str:
    """A source may need no credential (a public feed): empty is allowed, a value must be a name."""
    return "" if _empty(raw) else _credential(raw)


def _facility_ids(raw: Any) -> str:
    """Space-separated facility ids, at least one, none twice; kept as the normalised text."""
    ids = _required_text(raw).split()
    for ident in ids:
        _id(ident)
    if len(set(ids)) != len(ids):
        twice = next(i for i in ids if ids.count(i) > 1)
        raise _BadValue(f"facility {_shown(twice)} is listed twice")
    return " ".join(ids)


@dataclass(frozen=True, slots=True)
class _Spec:
    columns: Mapping[str, Converter]  # every column, in file order, with its converter
    optional: frozenset[str]  # columns that may be absent from the header
    key: tuple[str, ...]  # unique within one file


_SPECS: Mapping[str, _Spec] = {
    "facilities": _Spec({"id": _id, "country": _country, "name": _optional_text}, frozenset(), ("id",)),
    "regions": _Spec(
        {"region": _id, "facility_id": _id},
        frozenset(),
        ("region", "facility_id"),
    ),
    "variants": _Spec({"id": _id, "sku": _required_text, "kind": _choice(VariantKind)}, frozenset(), ("id",)),
    "stock": _Spec(
        {
            "variant_id": _id,
            "facility_id": _id,
            "status": _choice(StockStatus),
            "quantity": _number(0, None),
        },
        frozenset(),
        ("variant_id", "facility_id"),
    ),
    "stores": _Spec(
        {
            "id": _store_id,
            "platform": _platform,
            "region": _id,
            "drift_policy": _choice(DriftPolicy, DriftPolicy.PROTECT),
            "mode": _choice(StoreMode, StoreMode.STATUS),
            "safety_buffer": _number(0, 0),
            "credential": _credential,
            "settings": _settings,
            "max_quantity": _number(1, None),
            "pod_quantity": _number(1, 100),
            "full_pass_interval_minutes": _number(1, 240),
            "enabled": _enabled,
        },
        frozenset({"max_quantity", "pod_quantity", "full_pass_interval_minutes", "enabled"}),
        ("id",),
    ),
    "mappings": _Spec(
        {"store_id": _id, "external_id": _id, "variant_id": _id},
        frozenset(),
        ("store_id", "external_id"),
    ),
    "sources": _Spec(
        {
            "id": _source_id,
            "kind": _source_kind,
            "credential": _optional_credential,
            "settings": _settings,
            "facilities": _facility_ids,
            "pull_interval_minutes": _number(1, 240),
            "enabled": _enabled,
        },
        frozenset({"pull_interval_minutes", "enabled"}),
        ("id",),
    ),
    "source-mappings": _Spec(
        {"source_id": _id, "external_id": _id, "variant_id": _id},
        frozenset(),
        ("source_id", "external_id"),
    ),
}


def columns(kind: str) -> tuple[str, ...]:
    """Every column a file of this kind may have, optional ones marked `[name]` (for help texts)."""
    spec = _spec(kind, "import")
    return tuple(f"[{name}]" if name in spec.optional else name for name in spec.columns)


def _spec(kind: str, where: str) -> _Spec:
    try:
        return _SPECS[kind]
    except KeyError:
        raise InputError(where, "kind", f"{kind!r} is not one of {', '.join(KINDS)}") from None


def read_rows(kind: str, path: Path) -> list[ImportRow]:
    """Parse and validate a whole file; the first bad row raises InputError(where="FILE:LINE", …)."""
    spec = _spec(kind, str(path))
    return _checked_rows(spec, path, _records(path, spec))


def rows_from_text(kind: str, text: str, fmt: str, name: str) -> list[ImportRow]:
    """Parse and validate a document already in memory (a pulled feed) as a file of `kind` in format
    csv or json would be; errors name `name:LINE`."""
    spec = _spec(kind, name)
    where = Path(name)
    records = _csv_records(text, where, spec) if fmt == "csv" else list(_json_records(text, where))
    return _checked_rows(spec, where, records)


def _checked_rows(spec: _Spec, path: Path, records: list[tuple[int, dict[str, Any]]]) -> list[ImportRow]:
    rows: list[ImportRow] = []
    first_seen: dict[tuple[Any, ...], int] = {}
    for line, record in records:
        row = _convert(spec, f"{path}:{line}", record, line)
        key = tuple(row.values[c] for c in spec.key)
        if key in first_seen:
            raise InputError(
                f"{path}:{line}",
                ",".join(spec.key),
                f"duplicate of line {first_seen[key]} ({', '.join(map(str, key))})",
            )
        first_seen[key] = line
        rows.append(row)
    return rows


def _check_columns(spec: _Spec, where: str, names: Sequence[str]) -> None:
    unknown = [name for name in names if name not in spec.columns]
    if unknown:
        shown = ",".join(map(_column_name, unknown))
        raise InputError(where, shown, f"unknown column (expected: {', '.join(spec.columns)})")
    for name in spec.columns:
        if name not in names and name not in spec.optional:
            raise InputError(where, name, "missing required column")


def _convert(spec: _Spec, where: str, record: Mapping[str, Any], line: int) -> ImportRow:
    _check_columns(spec, where, list(record))
    values: dict[str, Any] = {}
    for name, convert in spec.columns.items():
        try:
            values[name] = convert(record.get(name))
        except _BadValue as exc:
            raise InputError(where, name, str(exc)) from None
    return ImportRow(line, values)


def _records(path: Path, spec: _Spec) -> list[tuple[int, dict[str, Any]]]:
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".json"):
        raise InputError(str(path), "file", "format is chosen by extension: use .csv or .json")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(str(path), "file", exc.strerror or "cannot be read") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InputError(f"{path}:{line}", "file", "not UTF-8 text") from None
    return _csv_records(text, path, spec) if suffix == ".csv" else list(_json_records(text, path))


def _csv_records(text: str, path: Path, spec: _Spec) -> list[tuple[int, dict[str, Any]]]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    records: list[tuple[int, dict[str, Any]]] = []
    try:
        header = [name.strip() for name in next(reader, [])]
        if not any(header):
            raise InputError(f"{path}:1", "header", "missing header row (the first line names the columns)")
        _check_header(header, path)
        _check_columns(spec, f"{path}:1", header)  # also when no row follows: a header-only file
        start = reader.line_num + 1
        for fields in reader:
            if fields and any(f.strip() for f in fields):
                if len(fields) != len(header):
                    raise InputError(
                        f"{path}:{start}", "row", f"has {len(fields)} fields, the header has {len(header)}"
                    )
                records.append((start, dict(zip(header, fields, strict=True))))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise InputError(f"{path}:{reader.line_num}", "csv", str(exc)) from None
    return records


def _check_header(header: Sequence[str], path: Path) -> None:
    seen: set[str] = set()
    for name in header:
        if not name:
            raise InputError(f"{path}:1", "header", "a column has no name")
        if name in seen:
            raise InputError(f"{path}:1", name, "column appears twice in the header")
        seen.add(name)


def _json_records(text: str, path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """The objects of a top-level array, each with the line its `{` is on."""
    decoder = _decoder()

    def line_at(index: int) -> int:
        return text.count("\n", 0, index) + 1

    def skip(index: int) -> int:
        while index < len(text) and text[index] in _JSON_SPACE:
            index += 1
        return index

    def fail(index: int, reason: str) -> InputError:
        return InputError(f"{path}:{line_at(index)}", "json", reason)

    i = skip(0)
    if text[i : i + 1] != "[":
        raise fail(i, "expected an array of objects: [{...}, {...}]")
    i = skip(i + 1)
    closed = text[i : i + 1] == "]"
    while not closed:
        try:
            value, end = decoder.raw_decode(text, i)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}:{exc.lineno}", "json", exc.msg) from None
        except _DuplicateKey as exc:
            raise InputError(
                f"{path}:{line_at(i)}", _column_name(exc.key), "the key appears twice in one object"
            ) from None
        except (ValueError, RecursionError):  # more than 4,300 digits; nested deeper than Python goes
            raise fail(i, "not JSON stocksync can read (a number or nesting too large)") from None
        if not isinstance(value, dict):
            raise fail(i, "each element must be an object")
        yield line_at(i), value
        i = skip(end)
        if text[i : i + 1] not in (",", "]"):
            raise fail(i, "expected ',' or ']' after an object")
        closed = text[i] == "]"
        i = skip(i + 1) if not closed else i
    if skip(i + 1) != len(text):
        raise fail(skip(i + 1), "unexpected text after the array")


def check_references(
    rows: Sequence[ImportRow], column: str, existing: Mapping[str, Any] | set[str], what: str, source: str
) -> None:
    """Raise at the first row whose `column` names an id absent from `existing` (looked up by the caller)."""
    for row in rows:
        value = row.values[column]
        if value not in existing:
            raise InputError(f"{source}:{row.line}", column, f"unknown {what} {_shown(value)}")


def check_stock_quantities(rows: Sequence[ImportRow], kinds: Mapping[str, str], source: str) -> None:
    """Warehouse variants need a quantity; pod variants are made to order and must have none."""
    for row in rows:
        kind = kinds[row.values["variant_id"]]
        quantity = row.values["quantity"]
        if kind == VariantKind.WAREHOUSE and quantity is None:
            raise InputError(
                f"{source}:{row.line}", "quantity", "required for a warehouse variant (a whole number >= 0)"
            )
        if kind == VariantKind.POD and quantity is not None:
            raise InputError(f"{source}:{row.line}", "quantity", "must be empty for a pod variant")
