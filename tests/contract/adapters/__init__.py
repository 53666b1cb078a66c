"""One module per platform: its contract-suite adapter (tests/contract/adapter.py says what one does)."""
