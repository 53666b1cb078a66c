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

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}$")


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
            return Secret(name, value)
        where = ", ".join(str(d) for d in self._dirs) or "no credentials directory configured"
        raise CredentialError(f"credential {name!r} not found (looked in: {where})")

    def load_optional(self, name: str) -> Secret | None:
        try:
            return self.load(name)
        except CredentialError:
            return None
