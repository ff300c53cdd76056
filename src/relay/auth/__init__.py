"""API keys: their format, storage, verification and the routes that manage them."""
