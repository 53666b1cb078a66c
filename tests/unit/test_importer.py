"""The import parser: every kind in CSV and JSON, exact FILE:LINE: column errors, secrets never echoed."""

from __future__ import annotations

from pathlib import Path

import pytest

import reconcilers
from daemon.errors import InputError
from daemon.importer import (
    KINDS,
    ImportCounts,
    ImportRow,
    check_references,
    check_stock_quantities,
    columns,
    read_rows,
)
from daemon.model import DriftPolicy, StockStatus, StoreMode, VariantKind

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "import"
STOCK_HEADER = "variant_id,facility_id,status,quantity\n"
STORE_HEADER = "id,platform,region,drift_policy,mode,safety_buffer,credential,settings\n"


@pytest.fixture(autouse=True)
def platforms(monkeypatch: pytest.MonkeyPatch) -> None:
    # The registry may not list a sandbox platform (or exist yet): the parser only needs the names.
    monkeypatch.setattr(
        reconcilers, "known_platforms", lambda: frozenset({"sandbox", "shopify"}), raising=False
    )


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def error(kind: str, path: Path) -> InputError:
    with pytest.raises(InputError) as caught:
        read_rows(kind, path)
    return caught.value


@pytest.mark.parametrize("kind", KINDS)
def test_csv_and_json_fixtures_give_the_same_typed_rows(kind: str) -> None:
    from_csv = read_rows(kind, FIXTURES / f"{kind}.csv")
    from_json = read_rows(kind, FIXTURES / f"{kind}.json")
    assert len(from_csv) >= 2
    assert [dict(r.values) for r in from_csv] == [dict(r.values) for r in from_json]
    assert [r.line for r in from_csv] == list(range(2, len(from_csv) + 2))


def test_typed_values_of_each_kind() -> None:
    stock = read_rows("stock", FIXTURES / "stock.csv")
    assert stock[0].values == {
        "variant_id": "tee",
        "facility_id": "us1",
        "status": StockStatus.IN_STOCK,
        "quantity": None,
    }
    assert stock[4].values["quantity"] == 12 and stock[5].values["quantity"] == 0
    assert read_rows("variants", FIXTURES / "variants.csv")[2].values["kind"] is VariantKind.WAREHOUSE
    assert read_rows("facilities", FIXTURES / "facilities.csv")[2].values["name"] == "Riga, Latvia"


def test_store_columns_and_defaults() -> None:
    na, eu = (r.values for r in read_rows("stores", FIXTURES / "stores.csv"))
    assert na["drift_policy"] is DriftPolicy.OVERWRITE and na["mode"] is StoreMode.QUANTITY
    assert na["settings"] == {"base_url": "http://127.0.0.1:8801", "location_id": 7}
    assert (na["safety_buffer"], na["max_quantity"], na["enabled"]) == (2, 50, True)
    # empty cells and absent optional columns take the documented defaults
    assert eu["drift_policy"] is DriftPolicy.PROTECT and eu["mode"] is StoreMode.STATUS
    assert (eu["safety_buffer"], eu["settings"], eu["max_quantity"]) == (0, {}, None)
    assert (eu["pod_quantity"], eu["full_pass_interval_minutes"], eu["enabled"]) == (100, 240, False)


def test_json_lines_are_where_each_object_starts() -> None:
    rows = read_rows("stores", FIXTURES / "stores.json")
    assert [r.line for r in rows] == [2, 7]


def test_bad_status_on_line_7_names_file_line_and_column() -> None:
    exc = error("stock", FIXTURES / "stock_bad_status_line7.csv")
    assert "stock_bad_status_line7.csv:7: status:" in str(exc)
    assert (exc.field, exc.where.endswith(":7")) == ("status", True)


def test_utf8_bom_is_tolerated(tmp_path: Path) -> None:
    path = write(tmp_path, "facilities.csv", "\ufeffid,country,name\nus1,US,Memphis\n".encode())
    assert read_rows("facilities", path)[0].values["id"] == "us1"


def test_not_utf8_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "facilities.csv", b"id,country,name\nus1,US,ok\nlv1,LV,R\xefga\n")
    assert str(error("facilities", path)).endswith("facilities.csv:3: file: not UTF-8 text")


def test_quoted_multiline_field_counts_physical_lines(tmp_path: Path) -> None:
    text = 'id,country,name\nus1,US,"Memphis\nwest\nside"\nca1,CA,ok\nlv1,lv,bad\n'
    path = write(tmp_path, "facilities.csv", text)
    assert "facilities.csv:6: country:" in str(error("facilities", path))
    path.write_text(text.replace("lv1,lv,bad\n", ""), encoding="utf-8")
    rows = read_rows("facilities", path)
    assert [r.line for r in rows] == [2, 5]
    assert rows[0].values["name"] == "Memphis\nwest\nside"


def test_blank_lines_are_skipped_but_counted(tmp_path: Path) -> None:
    path = write(tmp_path, "variants.csv", "id,sku,kind\n\ntee,TEE,pod\n\nmug,MUG,box\n")
    assert "variants.csv:5: kind: 'box' is not one of pod|warehouse" in str(error("variants", path))


def test_unknown_columns_are_named(tmp_path: Path) -> None:
    path = write(tmp_path, "variants.csv", "id,sku,kind,colour,size\ntee,TEE,pod,black,M\n")
    exc = error("variants", path)
    assert (exc.field, exc.where.endswith("variants.csv:1")) == ("colour,size", True)  # the header's line
    assert "unknown column" in exc.reason


def test_missing_required_column(tmp_path: Path) -> None:
    path = write(tmp_path, "variants.csv", "id,kind\ntee,pod\n")
    assert "variants.csv:1: sku: missing required column" in str(error("variants", path))
    json_path = write(tmp_path, "variants.json", '[\n{"id": "tee", "kind": "pod"}]')
    assert "variants.json:2: sku: missing required column" in str(error("variants", json_path))


def test_missing_key_in_json_object(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "variants.json",
        '[\n  {"id": "tee", "sku": "T", "kind": "pod"},\n  {"id": "mug", "kind": "pod"}\n]',
    )
    assert "variants.json:3: sku: missing required column" in str(error("variants", path))


def test_unknown_key_in_json_object(tmp_path: Path) -> None:
    path = write(tmp_path, "variants.json", '[{"id": "tee", "sku": "T", "kind": "pod", "colour": "red"}]')
    assert "variants.json:1: colour: unknown column" in str(error("variants", path))


def test_json_must_be_an_array_of_objects(tmp_path: Path) -> None:
    assert "json: expected an array" in str(error("variants", write(tmp_path, "a.json", '{"id": "tee"}')))
    path = write(tmp_path, "b.json", '[\n {"id": "tee", "sku": "T", "kind": "pod"},\n "mug"\n]')
    assert "b.json:3: json: each element must be an object" in str(error("variants", path))
    assert "c.json:2: json:" in str(error("variants", write(tmp_path, "c.json", '[\n {"id": }\n]')))
    assert "after the array" in str(error("variants", write(tmp_path, "d.json", "[]\n[]")))
    assert read_rows("variants", write(tmp_path, "e.json", " [ ] \n")) == []


def test_header_row_required(tmp_path: Path) -> None:
    assert "empty.csv:1: header: missing header row" in str(
        error("variants", write(tmp_path, "empty.csv", ""))
    )


def test_row_with_wrong_field_count(tmp_path: Path) -> None:
    path = write(tmp_path, "variants.csv", "id,sku,kind\ntee,TEE,pod,extra\n")
    assert "variants.csv:2: row: has 4 fields, the header has 3" in str(error("variants", path))


def test_extension_decides_the_format(tmp_path: Path) -> None:
    exc = error("variants", write(tmp_path, "variants.txt", "id,sku,kind\n"))
    assert (exc.field, "use .csv or .json" in exc.reason) == ("file", True)


def test_duplicate_key_reported_at_the_second_occurrence(tmp_path: Path) -> None:
    path = write(
        tmp_path, "stock.csv", STOCK_HEADER + "tee,us1,in_stock,\nmug,us1,in_stock,\ntee,us1,out_of_stock,\n"
    )
    exc = error("stock", path)
    assert str(exc).endswith("stock.csv:4: variant_id,facility_id: duplicate of line 2 (tee, us1)")


@pytest.mark.parametrize(
    ("kind", "body", "column", "reason"),
    [
        ("facilities", "id,country,name\nus1,us,x\n", "country", "ISO 3166 alpha-2"),
        ("facilities", "id,country,name\n,US,x\n", "id", "must not be empty"),
        ("variants", "id,sku,kind\ntee,,pod\n", "sku", "must not be empty"),
        ("stock", STOCK_HEADER + "tee,us1,in_stock,-1\n", "quantity", "not a whole number >= 0"),
        ("stock", STOCK_HEADER + "tee,us1,in_stock,1.5\n", "quantity", "not a whole number >= 0"),
        ("stock", STOCK_HEADER + "tee,us1,in_stock,99999999999\n", "quantity", "out of range"),
        ("stock", STOCK_HEADER + "tee,us1,,\n", "status", "must not be empty"),
        ("stores", STORE_HEADER + "na,magento9,r,,,,tok,\n", "platform", "not a known platform"),
        ("stores", STORE_HEADER + "n a,sandbox,r,,,,tok,\n", "id", "not a store id"),
        ("stores", STORE_HEADER + "na,sandbox,r,always,,,tok,\n", "drift_policy", "overwrite|report|protect"),
        ("stores", STORE_HEADER + "na,sandbox,r,,both,,tok,\n", "mode", "status|quantity"),
        ("stores", STORE_HEADER + "na,sandbox,r,,,-2,tok,\n", "safety_buffer", "whole number >= 0"),
        ("stores", STORE_HEADER + "na,sandbox,r,,,,tok,[1]\n", "settings", "must be a JSON object"),
        ("stores", STORE_HEADER + "na,sandbox,,,,,tok,\n", "region", "must not be empty"),
        ("stores", STORE_HEADER + "na,sandbox,r,,,,,\n", "credential", "must not be empty"),
    ],
)
def test_each_validation_error_names_line_and_column(
    tmp_path: Path, kind: str, body: str, column: str, reason: str
) -> None:
    exc = error(kind, write(tmp_path, f"{kind}.csv", body))
    assert f"{kind}.csv:2: {column}:" in str(exc)
    assert reason in exc.reason


def test_bad_settings_json_is_reported_without_its_text(tmp_path: Path) -> None:
    path = write(tmp_path, "stores.csv", STORE_HEADER + 'na,sandbox,r,,,,tok,"{""api_key"": hunter2}"\n')
    exc = error("stores", path)
    assert "stores.csv:2: settings: not valid JSON" in str(exc)
    assert "hunter2" not in str(exc)


def test_optional_store_columns_are_validated(tmp_path: Path) -> None:
    header = STORE_HEADER.strip() + ",enabled,full_pass_interval_minutes,max_quantity,pod_quantity\n"
    rows = {
        "enabled": "na,sandbox,r,,,,tok,,yes,,,\n",
        "full_pass_interval_minutes": "na,sandbox,r,,,,tok,,,0,,\n",
        "max_quantity": "na,sandbox,r,,,,tok,,,,0,\n",
        "pod_quantity": "na,sandbox,r,,,,tok,,,,,x\n",
    }
    for column, row in rows.items():
        assert f"stores.csv:2: {column}:" in str(error("stores", write(tmp_path, "stores.csv", header + row)))


@pytest.mark.parametrize(
    "secret",
    ["shpat_" + "a1b2c3d4" * 10, "sk live/abc+def==", 'ck_{"k": 1}', "Bearer eyJhbGciOiJIUzI1NiJ9.abc"],
)
def test_a_secret_looking_credential_is_never_echoed(tmp_path: Path, secret: str) -> None:
    csv_path = write(
        tmp_path, "stores.csv", STORE_HEADER + f'na,sandbox,r,,,,"{secret.replace(chr(34), 2 * chr(34))}",\n'
    )
    exc = error("stores", csv_path)
    assert "stores.csv:2: credential: is not a credential name" in str(exc)
    assert secret not in str(exc) and secret[:12] not in str(exc)


def test_credential_in_json_must_be_a_string(tmp_path: Path) -> None:
    body = '[{"id": "na", "platform": "sandbox", "region": "r", "drift_policy": "", "mode": "",\n'
    body += ' "safety_buffer": 0, "credential": {"token": "s3cr3t"}, "settings": {}}]'
    exc = error("stores", write(tmp_path, "stores.json", body))
    assert "stores.json:1: credential:" in str(exc) and "s3cr3t" not in str(exc)


def test_json_native_types_are_accepted_and_checked(tmp_path: Path) -> None:
    good = '[{"variant_id": "socks", "facility_id": "us1", "status": "in_stock", "quantity": 3}]'
    assert read_rows("stock", write(tmp_path, "stock.json", good))[0].values["quantity"] == 3
    bad = good.replace(": 3", ": true")
    assert "stock.json:1: quantity:" in str(error("stock", write(tmp_path, "stock.json", bad)))


def test_pod_with_quantity_and_warehouse_without(tmp_path: Path) -> None:
    path = write(
        tmp_path, "stock.csv", STOCK_HEADER + "tee,us1,in_stock,\nsocks,us1,in_stock,4\ntee,ca1,in_stock,3\n"
    )
    rows = read_rows("stock", path)
    kinds = {"tee": "pod", "socks": "warehouse"}
    with pytest.raises(InputError, match=r"^stock.csv:4: quantity: must be empty for a pod variant$"):
        check_stock_quantities(rows, kinds, "stock.csv")
    path.write_text(STOCK_HEADER + "tee,us1,in_stock,\nsocks,us1,in_stock,\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"^stock.csv:3: quantity: required for a warehouse variant"):
        check_stock_quantities(read_rows("stock", path), kinds, "stock.csv")


def test_check_references_names_the_first_missing_id() -> None:
    rows = [ImportRow(2, {"facility_id": "us1"}), ImportRow(5, {"facility_id": "xx9"})]
    with pytest.raises(InputError, match=r"^regions.csv:5: facility_id: unknown facility 'xx9'$"):
        check_references(rows, "facility_id", {"us1"}, "facility", "regions.csv")
    check_references(rows[:1], "facility_id", {"us1"}, "facility", "regions.csv")


def test_summary_line() -> None:
    counts = ImportCounts(3, new=1, updated=1)
    assert counts.summary("stores.csv") == "imported stores.csv: 3 rows (1 new, 1 updated, 1 unchanged)"


def test_columns_mark_the_optional_ones() -> None:
    assert columns("stock") == ("variant_id", "facility_id", "status", "quantity")
    assert columns("stores")[-4:] == (
        "[max_quantity]",
        "[pod_quantity]",
        "[full_pass_interval_minutes]",
        "[enabled]",
    )


def test_a_header_only_file_with_a_misspelt_column_is_refused_at_line_1(tmp_path: Path) -> None:
    # found: with no data rows the header was never compared with the columns, so the import "worked"
    path = write(tmp_path, "stock.csv", "variant_id,facility_id,statsu,quantity\n")
    refused = error("stock", path)
    assert str(refused).startswith(f"{path}:1: statsu: unknown column")


def test_a_header_only_file_missing_a_required_column_is_refused_at_line_1(tmp_path: Path) -> None:
    path = write(tmp_path, "stock.csv", "variant_id,facility_id,status\n")
    assert str(error("stock", path)).startswith(f"{path}:1: quantity: missing required column")


def test_a_header_only_file_with_the_right_columns_is_an_empty_import(tmp_path: Path) -> None:
    assert read_rows("stock", write(tmp_path, "stock.csv", STOCK_HEADER)) == []


def test_a_json_object_with_a_duplicate_key_is_refused(tmp_path: Path) -> None:
    # one of the two values would be dropped silently: which one the user meant is not ours to guess
    text = '[\n{"id": "v1", "sku": "A", "kind": "pod", "sku": "B"}\n]'
    refused = error("variants", write(tmp_path, "variants.json", text))
    assert str(refused).endswith(": sku: the key appears twice in one object")
    assert refused.where.endswith("variants.json:2")


def test_a_duplicate_key_inside_settings_is_refused(tmp_path: Path) -> None:
    row = '{"base_url": "http://a", "base_url": "http://b"}'
    path = write(
        tmp_path, "stores.csv", STORE_HEADER + f's1,sandbox,eu,,,,tok,"{row.replace(chr(34), 2 * chr(34))}"\n'
    )
    refused = error("stores", path)
    assert (refused.where, refused.field) == (f"{path}:2", "settings")
    assert "base_url" in refused.reason and "twice" in refused.reason


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity"])
def test_settings_with_a_number_postgresql_cannot_hold_are_refused(tmp_path: Path, number: str) -> None:
    # found: jsonb refuses NaN and Infinity, which Python's json accepts: a traceback and exit 1
    cell = '"{""requests_per_second"": ' + number + '}"'
    path = write(tmp_path, "stores.csv", STORE_HEADER + f"s1,sandbox,eu,,,,tok,{cell}\n")
    refused = error("stores", path)
    assert (refused.where, refused.field) == (f"{path}:2", "settings")
    assert number.lstrip("-") in refused.reason


def test_a_json_import_with_nan_is_refused(tmp_path: Path) -> None:
    text = '[{"id": "s1", "platform": "sandbox", "region": "eu", "drift_policy": "", "mode": "",\n'
    text += ' "safety_buffer": 0, "credential": "tok", "settings": {"x": NaN}}]'
    refused = error("stores", write(tmp_path, "stores.json", text))
    assert refused.field == "settings" and refused.where.endswith("stores.json:1")


@pytest.mark.parametrize(
    ("kind", "text", "column"),
    [
        ("variants", "id,sku,kind\n{long},SKU,pod\n", "id"),
        ("facilities", "id,country,name\n{long},US,\n", "id"),
        ("regions", "region,facility_id\n{long},us1\n", "region"),
        ("mappings", "store_id,external_id,variant_id\ns1,{long},v1\n", "external_id"),
    ],
)
def test_ids_too_long_for_an_index_are_refused(tmp_path: Path, kind: str, text: str, column: str) -> None:
    # found: PostgreSQL's index refuses rows over ~2.7 kB ("index row size exceeds"): a traceback
    long = "".join(chr(0x4E00 + i % 20000) for i in range(3000))  # incompressible, 3 bytes each
    refused = error(kind, write(tmp_path, f"{kind}.csv", text.replace("{long}", long)))
    assert (refused.field, refused.where.rsplit(":", 1)[1]) == (column, "2")
    assert "at most 500 characters" in refused.reason
