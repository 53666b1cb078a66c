"""Credentials by name: `$CREDENTIALS_DIRECTORY/<name>` (systemd LoadCredential=), else a configured dir.

A Secret never shows its value in repr/str/logs; code that needs it calls reveal() at the last moment.
Values never go into the database: store rows hold only the credential's *name*.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from daemon.errors import CredentialError

# The daemon's own credentials (files under $CREDENTIALS_DIRECTORY); stores name theirs.
ADMIN_TOKEN = "admin-token"
WEBHOOK_SECRET = "webhook-secret"
DAEMON_CREDENTIALS = (ADMIN_TOKEN, WEBHOOK_SECRET)
# An empty file (what `printf '%s' "$UNSET_VARIABLE" | tee …` writes) would be an empty HMAC key and an
# empty bearer token that match anything sent with them: the daemon's own secrets need some length.
MIN_SECRET_LENGTH = 16

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}$")


def store_credential_problem(name: str) -> str | None:
    """Why a store may not name this credential: the daemon's own secrets (and every name beginning with
    `stocksync`, kept for future ones) are never sent to a store's base_url as its platform token."""
    if name in DAEMON_CREDENTIALS or name.lower().startswith("stocksync"):
        return (
            f"{name!r} is reserved for the daemon's own secrets ({', '.join(DAEMON_CREDENTIALS)}, "
            "stocksync*); give the store a credential file of its own"
        )
    return None


class CredentialMissing(CredentialError):
    """No file of that name in any credentials directory (a daemon may run without an optional one)."""


def value_problem(name: str, value: str) -> str | None:
    """Why this value cannot serve as credential `name`, or None; never mentions the value."""
    if not value.strip():
        return "is empty or whitespace only"
    if name in DAEMON_CREDENTIALS and len(value) < MIN_SECRET_LENGTH:
        return f"is shorter than {MIN_SECRET_LENGTH} characters"
    return None


class Secret:
    """A secret value that refuses to be printed."""

    __slots__ = ("_name", "_value")

    def __init__(self, name: str, value: str) -> None:
        self._name = name
        self._value = value

    @property
    def name(self) -> str:
        return self._name

    def reveal(self) -> str:
        return self._value

    def json(self) -> dict[str, Any]:
        """The value parsed as a JSON object (multi-part credentials, e.g. key + secret)."""
        try:
            parsed = json.loads(self._value)
        except ValueError:
            raise CredentialError(f"credential {self._name!r} is not a JSON object") from None
        if not isinstance(parsed, dict):
            raise CredentialError(f"credential {self._name!r} is not a JSON object")
        return parsed

    def __repr__(self) -> str:
        return f"Secret({self._name!r}, '***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._name == self._name and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._name)


class CredentialStore:
    """Reads named credentials; systemd's directory wins over the configured fallback."""

    def __init__(self, fallback_dir: str | None = None, environ: dict[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        dirs = [env.get("CREDENTIALS_DIRECTORY"), fallback_dir]
        self._dirs = [Path(d) for d in dirs if d]

    def load(self, name: str) -> Secret:
        if not _NAME.match(name):
            raise CredentialError(f"credential name {name!r} is not a valid file name")
        for directory in self._dirs:
            path = directory / name
            try:
                value = path.read_text(encoding="utf-8").strip()
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise CredentialError(
                    f"credential {name!r} unreadable in {directory}: {exc.strerror}"
                ) from None
            if (problem := value_problem(name, value)) is not None:
                raise CredentialError(f"credential {name!r} in {directory} {problem}{_HINT.get(name, '')}")
            return Secret(name, value)
        where = ", ".join(str(d) for d in self._dirs) or "no credentials directory configured"
        raise CredentialMissing(f"credential {name!r} not found (looked in: {where})")

    def load_for_store(self, name: str) -> Secret:
        """A store's credential: never one of the daemon's own, however the store row was written."""
        if (problem := store_credential_problem(name)) is not None:
            raise CredentialError(f"store credential {problem}")
        return self.load(name)

    def load_optional(self, name: str) -> Secret | None:
        """None when the file does not exist; a present but unusable value still raises."""
        try:
            return self.load(name)
        except CredentialMissing:
            return None

    def daemon_report(self) -> dict[str, str]:
        """Each of the daemon's own credentials: "ok", or what is wrong with it (for `config check`)."""
        report = {}
        for name in DAEMON_CREDENTIALS:
            try:
                self.load(name)
                report[name] = "ok"
            except CredentialError as exc:
                report[name] = str(exc)
        return report

    def startup_problem(self, *, require_admin: bool = True) -> str | None:
        """What stops `stocksync run`: the admin token must be usable (the drift pages are always served);
        the webhook secret may be absent (upstream webhooks are then refused) but not empty or short.
        `config check` also serves hosts that only run CLI commands: there a missing token is reported,
        not refused."""
        for name in DAEMON_CREDENTIALS:
            try:
                self.load(name)
            except CredentialMissing as exc:
                if name == ADMIN_TOKEN and require_admin:
                    return f"{exc}; the drift pages and the admin API need it"
            except CredentialError as exc:
                return str(exc)
        return None


_HINT = {
    name: f"; it needs at least {MIN_SECRET_LENGTH} characters (e.g. `openssl rand -hex 32`)"
    for name in DAEMON_CREDENTIALS
}
