"""Optional dependencies, imported with an error that says how to install them."""

from __future__ import annotations

import importlib
from types import ModuleType


class MissingPackageError(ImportError):
    """A package that this feature needs is not installed."""


def require(module: str, pip_name: str | None = None, purpose: str = "") -> ModuleType:
    """Import `module`, or raise MissingPackageError naming the pip package to install."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        if getattr(err, "name", None) not in (None, module, module.split(".")[0]):
            raise  # the package is there but one of *its* imports failed: show that error as is
        need = f" (needed for {purpose})" if purpose else ""
        raise MissingPackageError(
            f"the package '{pip_name or module}' is not installed{need}. "
            f"Install it with:  pip install {pip_name or module}  "
            "(or run `make setup` in the book's repository for the whole pinned stack)"
        ) from err
