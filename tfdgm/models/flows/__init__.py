"""flows models (see DESIGN.md)."""

__all__ = []

REGISTRY = {}
