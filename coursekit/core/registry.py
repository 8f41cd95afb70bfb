"""A name → object registry filled by plugin modules that are imported by name on first use
(the recipes of `coursekit.recipes`, the studies of `coursekit.labs`), so that core never imports
the layers above it and ``import coursekit`` stays quick."""
from __future__ import annotations

import importlib
from typing import Generic, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    """``registry.add(name, item)``; ``registry.all()`` imports the plugin modules first."""

    def __init__(self, kind: str, modules: tuple[str, ...]):
        self.kind, self.modules = kind, modules
        self.items: dict[str, T] = {}

    def add(self, name: str, item: T) -> T:
        """Register `item` (a later registration with the same name replaces it)."""
        self.items[name] = item
        return item

    def all(self) -> dict[str, T]:
        """Every registered item, after importing the modules that register them."""
        for module in self.modules:
            importlib.import_module(module)
        return dict(self.items)

    def get(self, name: str) -> T:
        """The item called `name`; a KeyError listing the known names otherwise."""
        known = self.all()
        if name not in known:
            raise KeyError(f"no {self.kind} named {name!r}; known: {sorted(known)}")
        return known[name]
