"""What PostgreSQL can store as text: every input path (events, HTTP parameters, imports) checks it."""

from __future__ import annotations

NOT_STORABLE = "contains a NUL character or an unpaired surrogate"


def storable_text(value: str) -> bool:
    """PostgreSQL text holds neither NUL nor unpaired surrogates (JSON can carry both as escapes)."""
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
