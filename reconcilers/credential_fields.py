"""Reading a store's credential: a JSON object of named text fields (or, where a platform allows it,
a plain token string standing for its first field).

Errors name the credential, the store and the field, never a value.
"""

from __future__ import annotations

from collections.abc import Sequence

from daemon.errors import CredentialError
from reconcilers.interface import ReconcilerContext


def credential_fields(
    context: ReconcilerContext,
    required: Sequence[str],
    optional: Sequence[str] = (),
    *,
    plain_allowed: bool = False,
) -> dict[str, str | None]:
    """{field: value} for every required (non-empty text) and optional field (None when absent or
    empty). `plain_allowed`: a value that is not JSON is the first required field alone."""
    secret = context.credential
    where = f"credential {secret.name!r} for store {context.store.id}"
    try:
        parsed = secret.json()
    except CredentialError:
        if not plain_allowed:
            raise CredentialError(f"{where} is not a JSON object with {', '.join(required)}") from None
        if not secret.reveal().strip():
            raise CredentialError(f"{where} is empty") from None
        return {required[0]: secret.reveal().strip(), **dict.fromkeys([*required[1:], *optional])}
    fields: dict[str, str | None] = {}
    for name in required:
        value = parsed.get(name)
        if not isinstance(value, str) or not value:
            raise CredentialError(f"{where}: {name!r} is missing")
        fields[name] = value
    for name in optional:
        value = parsed.get(name)
        if value is not None and not isinstance(value, str):
            raise CredentialError(f"{where}: {name!r} must be a string")
        fields[name] = value or None
    return fields
