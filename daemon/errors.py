"""Daemon-wide error taxonomy. Messages name what a user must fix; they never carry a secret."""

from __future__ import annotations


class StocksyncError(Exception):
    """Base of every error stocksync raises on purpose."""


class ConfigError(StocksyncError):
    """Bad configuration: the message names the key and the reason."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"config: {key}: {reason}")
        self.key = key
        self.reason = reason


class CredentialError(StocksyncError):
    """A named credential could not be read. Names the credential, never its value."""


class InputError(StocksyncError):
    """Bad input (import file, webhook body): names file/line/field so the user can fix it."""

    def __init__(self, where: str, field: str, reason: str) -> None:
        super().__init__(f"{where}: {field}: {reason}")
        self.where = where
        self.field = field
        self.reason = reason


class MigrationError(StocksyncError):
    """The database schema is not what this build expects (pending or edited migration)."""


class NotFoundError(StocksyncError):
    """A store, drift record or variant named by the user does not exist."""
