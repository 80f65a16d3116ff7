"""The shared core: configuration, stores, engine, events. No web framework here."""
