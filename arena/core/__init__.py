"""Shared core: records, config, store, cache, registry, errors."""
