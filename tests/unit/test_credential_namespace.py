"""Store credentials live apart from the daemon's own: a store may not name `admin-token` or
`webhook-secret`, neither in an import nor when a pass loads its credential (a row written another way)."""

from __future__ import annotations

from pathlib import Path

import pytest

import reconcilers
from daemon.credentials import CredentialStore
from daemon.errors import CredentialError, InputError
from daemon.importer import read_rows

HEADER = "id,platform,region,drift_policy,mode,safety_buffer,credential,settings\n"


@pytest.fixture(autouse=True)
def platforms(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reconcilers, "known_platforms", lambda: frozenset({"sandbox"}), raising=False)


@pytest.mark.parametrize("name", ["admin-token", "webhook-secret"])
def test_an_import_naming_a_daemon_credential_is_refused_at_its_line(tmp_path: Path, name: str) -> None:
    path = tmp_path / "stores.csv"
    path.write_text(HEADER + f"s1,sandbox,europe,report,status,0,{name},{{}}\n")
    with pytest.raises(InputError) as caught:
        read_rows("stores", path)
    assert caught.value.field == "credential" and caught.value.where.endswith(":2")
    assert "reserved" in str(caught.value)


@pytest.mark.parametrize("name", ["admin-token", "webhook-secret"])
def test_a_store_never_loads_a_daemon_credential(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_text("a-daemon-secret-0123456789")
    with pytest.raises(CredentialError, match="reserved"):
        CredentialStore(str(tmp_path), environ={}).load_for_store(name)


def test_a_store_credential_loads(tmp_path: Path) -> None:
    (tmp_path / "shop-token").write_text("x")
    assert CredentialStore(str(tmp_path), environ={}).load_for_store("shop-token").reveal() == "x"


def test_an_empty_store_credential_is_refused_when_loaded(tmp_path: Path) -> None:
    (tmp_path / "shop-token").write_text(" \n")
    with pytest.raises(CredentialError, match="empty"):
        CredentialStore(str(tmp_path), environ={}).load_for_store("shop-token")
