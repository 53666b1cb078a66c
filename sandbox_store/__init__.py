"""The sandbox store: a small real store platform on 127.0.0.1 for demos, end-to-end tests and
benchmarks. It is a store, not a reconciler: reconcilers/sandbox.py is its client."""

from __future__ import annotations
