"""Store platforms behind one interface; the registry of platform name → reconciler lives here."""
