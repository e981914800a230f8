"""`import uvicorn` without uvicorn's command line.

uvicorn/__init__.py imports uvicorn.main (click, the reload and multiprocess supervisors,
multiprocessing) to re-export `main` and `run`: ~35 modules, ~2.4 MB of the server process and
~25 ms of every start, none of it used by a server that builds its own Config and Server.
install() registers the package `uvicorn` without running its __init__.py: its submodules import
as usual, and the names the package exports (Config, Server, main, run, __version__) are looked
up when first asked for (PEP 562), so `import uvicorn; uvicorn.Config(...)`, `from uvicorn import
Config` (uvicorn.lifespan does this) and `uvicorn.run` all work as before."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from types import ModuleType

# where each name uvicorn/__init__.py exports is defined
EXPORTS = {"Config": "uvicorn.config", "Server": "uvicorn.server", "main": "uvicorn.main", "run": "uvicorn.main",
           "__version__": "uvicorn._version"}


def install() -> ModuleType:
    """The module `uvicorn` (the installed one when it was imported already)."""
    found = sys.modules.get("uvicorn")
    if found is not None:
        return found
    spec = importlib.util.find_spec("uvicorn")
    if spec is None or spec.submodule_search_locations is None:
        raise ImportError("uvicorn is not installed")
    module = importlib.util.module_from_spec(spec)  # the package, __init__.py not run

    def exported(name: str):
        where = EXPORTS.get(name)
        if where is None:
            raise AttributeError(f"module 'uvicorn' has no attribute {name!r}")
        value = getattr(importlib.import_module(where), name)
        setattr(module, name, value)
        return value

    module.__getattr__ = exported  # type: ignore[method-assign]
    module.__all__ = ["main", "run", "Config", "Server"]  # type: ignore[attr-defined]
    sys.modules["uvicorn"] = module
    return module
