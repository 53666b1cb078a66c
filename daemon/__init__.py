"""stocksync daemon core: configuration, database, availability rules, reconcile engine, CLI."""

from __future__ import annotations

__version__ = "0.1.0"
