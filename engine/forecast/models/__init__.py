"""Concrete forecasters, one module each; resolved lazily via engine.forecast.registry."""
