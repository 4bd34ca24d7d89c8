"""Lazy re-exports for the layer packages: ``ferviz.data.load_dataset`` without importing every module.

A package's ``__init__`` lists which module holds each public name; the name is imported the first
time it is read (PEP 562 module ``__getattr__``), so ``import ferviz.data.labels`` stays as light as
that one module.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def exports(package: str, table: dict[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]], list[str]]:
    """``(__getattr__, __dir__, __all__)`` for ``package`` re-exporting ``{name: submodule}``.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    table : dict of str to str
        Public name -> the submodule (relative to ``package``) that defines it.
    """

    def __getattr__(name: str) -> Any:
        if name not in table:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{table[name]}"), name)

    def __dir__() -> list[str]:
        return sorted(table)

    return __getattr__, __dir__, sorted(table)
