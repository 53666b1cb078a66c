"""Reading a store's credential: a JSON object of named fields, or a plain token string.

Errors name the credential and the store, never the value.
"""

from __future__ import annotations

from daemon.errors import CredentialError
from reconcilers.interface import ReconcilerContext


def token_and_secret(
    context: ReconcilerContext, token_field: str, secret_field: str
) -> tuple[str, str | None]:
    """(token, optional webhook/client secret) from JSON {token_field, secret_field} or a plain token."""
    secret = context.credential
    where = f"credential {secret.name!r} for store {context.store.id}"
    try:
        parsed = secret.json()
    except CredentialError:
        if not secret.reveal():
            raise CredentialError(f"{where} is empty") from None
        return secret.reveal(), None
    token, webhook_secret = parsed.get(token_field), parsed.get(secret_field)
    if not isinstance(token, str) or not token:
        raise CredentialError(f"{where}: {token_field!r} is missing")
    if webhook_secret is not None and not isinstance(webhook_secret, str):
        raise CredentialError(f"{where}: {secret_field!r} must be a string")
    return token, webhook_secret
