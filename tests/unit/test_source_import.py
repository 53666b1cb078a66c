"""The `sources` and `source-mappings` import files: columns, defaults and refusals naming FILE:LINE."""

from __future__ import annotations

from pathlib import Path

import pytest

from daemon.errors import InputError
from daemon.importer import columns, read_rows

HEADER = "id,kind,credential,settings,facilities"


def rows(tmp_path: Path, text: str, kind: str = "sources") -> list[dict[str, object]]:
    path = tmp_path / "f.csv"
    path.write_text(text)
    return [dict(r.values) for r in read_rows(kind, path)]


def test_columns_and_defaults(tmp_path: Path) -> None:
    assert columns("sources") == (
        "id",
        "kind",
        "credential",
        "settings",
        "facilities",
        "[pull_interval_minutes]",
        "[enabled]",
    )
    [row] = rows(tmp_path, f"{HEADER}\nfeed1,http_feed,,,us1  ca1\n")
    assert row == {
        "id": "feed1",
        "kind": "http_feed",
        "credential": "",
        "settings": {},
        "facilities": "us1 ca1",
        "pull_interval_minutes": 240,
        "enabled": True,
    }


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            "feed1,ftp_feed,,,us1",
            "f.csv:2: kind: 'ftp_feed' is not a known source kind (http_feed, hubrise_location, printful)",
        ),
        ("feed1,http_feed,,,", "f.csv:2: facilities: must not be empty"),
        ("feed1,http_feed,,,us1 us1", "f.csv:2: facilities: facility 'us1' is listed twice"),
        ("feed1,http_feed,,[1],us1", "f.csv:2: settings: must be a JSON object"),
        ("feed 1,http_feed,,,us1", "f.csv:2: id: 'feed 1' is not a source id"),
    ],
)
def test_bad_rows_are_named(tmp_path: Path, line: str, message: str) -> None:
    with pytest.raises(InputError) as caught:
        rows(tmp_path, f"{HEADER}\n{line}\n")
    assert str(caught.value).startswith(str(tmp_path / message))


def test_a_pasted_secret_as_credential_is_refused_without_echo(tmp_path: Path) -> None:
    secret = "sk_live_" + "x" * 70
    with pytest.raises(InputError) as caught:
        rows(tmp_path, f"{HEADER}\nfeed1,http_feed,{secret},,us1\n")
    assert caught.value.field == "credential" and secret not in str(caught.value)


def test_source_mappings(tmp_path: Path) -> None:
    text = "source_id,external_id,variant_id\nfeed1,UP-1,tee\nfeed1,UP-1,mug\n"
    with pytest.raises(InputError, match="f.csv:3: source_id,external_id: duplicate of line 2"):
        rows(tmp_path, text, "source-mappings")
