"""Loader: Python functions in supabase/functions/<name>/index.py, reloaded when their files change.

A function module defines `handler(request)` — async or plain — taking a Starlette `Request` and
returning a Starlette `Response`, or a dict / list (sent as JSON), str (text) or None (204)."""

from __future__ import annotations

import importlib.util
import logging
import re
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

log = logging.getLogger("localbase.functions")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
ENTRY = "index.py"


class FunctionNotFound(LookupError):
    pass


class FunctionLoadError(Exception):
    """The function's code failed to import; the message names the file and the error."""


@dataclass(frozen=True)
class LoadedFunction:
    name: str
    path: Path
    version: float  # newest mtime of the function's .py files
    handler: Callable[..., Any]
    verify_jwt: bool


class FunctionLoader:
    def __init__(self, folder: Path, config: dict[str, Any] | None = None):
        self.folder = folder
        self.config = config or {}  # config.toml's [functions.<name>] sections
        self._loaded: dict[str, LoadedFunction] = {}
        self._lock = threading.Lock()

    def _version(self, fn_dir: Path) -> float:
        return max((p.stat().st_mtime for p in fn_dir.rglob("*.py")), default=0.0)

    def get(self, name: str) -> LoadedFunction:
        if not NAME_RE.match(name):
            raise FunctionNotFound(name)
        fn_dir = self.folder / name
        entry = fn_dir / ENTRY
        if not entry.is_file():
            raise FunctionNotFound(name)
        version = self._version(fn_dir)
        current = self._loaded.get(name)
        if current is not None and current.version == version:
            return current
        with self._lock:
            current = self._loaded.get(name)
            if current is not None and current.version == version:
                return current
            module = self._import(name, entry, version)
            handler = getattr(module, "handler", None)
            if not callable(handler):
                raise FunctionLoadError(f"{entry}: defines no callable `handler(request)`")
            verify = bool(self.config.get(name, {}).get("verify_jwt", True))
            loaded = LoadedFunction(name, entry, version, handler, verify)
            if current is not None:
                log.info("reloaded function %s", name)
            self._loaded[name] = loaded
            return loaded

    @staticmethod
    def _import(name: str, entry: Path, version: float) -> ModuleType:
        module_name = f"localbase_functions.{name.replace('-', '_')}"
        spec = importlib.util.spec_from_file_location(module_name, entry,
                                                      submodule_search_locations=[str(entry.parent)])
        if spec is None or spec.loader is None:
            raise FunctionLoadError(f"{entry}: cannot be loaded")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as exc:  # the function's own code: report it, don't crash the server
            sys.modules.pop(module_name, None)
            raise FunctionLoadError(f"{entry}: {type(exc).__name__}: {exc}") from exc
        return module
