"""The sub-commands of ``lms-sync``, one module per concern.

Each module exposes ``register(sub, parent)`` and an ``ORDER`` number for its place in the help;
modules are found automatically, so adding a command touches no other file.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType


def command_modules() -> list[ModuleType]:
    """Every module of this package that registers sub-commands, in help order."""
    modules = [
        importlib.import_module(f"{__name__}.{info.name}")
        for info in pkgutil.iter_modules(__path__)
        if info.name != "base"
    ]
    return sorted((m for m in modules if hasattr(m, "register")), key=lambda m: getattr(m, "ORDER", 100))
