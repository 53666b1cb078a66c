"""Upstream sources: readers that pull facility stock from an upstream system (a feed, a fulfiller's
API, a POS's inventory) so stores can follow an upstream that cannot push, or missed a push.

One module per source kind; each implements `sources.interface.SourceReader` and sends every request
through the reconcilers' shared transport (pacing, retries and error mapping live there once).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from sources.interface import SourceContext, SourceReader

_KINDS: dict[str, str] = {  # kind -> "module:Class", imported when first used
    "http_feed": "sources.http_feed:HttpFeedReader",
    "printful": "sources.printful:PrintfulReader",
    "hubrise_location": "sources.hubrise_location:HubRiseLocationReader",
}


def known_kinds() -> frozenset[str]:
    return frozenset(_KINDS)


def reader_for(context: SourceContext) -> SourceReader:
    """The reader of the context's source kind (a ValueError naming the known kinds otherwise)."""
    target = _KINDS.get(context.source.kind)
    if target is None:
        raise ValueError(f"unknown source kind {context.source.kind!r} (known: {', '.join(sorted(_KINDS))})")
    module_name, _, class_name = target.partition(":")
    reader_class = getattr(import_module(module_name), class_name)
    return cast("SourceReader", reader_class(context))
