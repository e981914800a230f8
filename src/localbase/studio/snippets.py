"""The SQL editor's saved snippets: one file each, <data folder>/studio/snippets/<name>.sql."""

from __future__ import annotations

import os
import re
from pathlib import Path

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 _.-]{0,79}")
MAX_BYTES = 1024 * 1024


class SnippetError(ValueError):
    pass


class Snippets:
    def __init__(self, data_dir: Path) -> None:
        self.folder = data_dir / "studio" / "snippets"

    def _path(self, name: str) -> Path:
        if not NAME.fullmatch(name) or name.endswith("."):
            raise SnippetError("a snippet's name is 1-80 letters, digits, spaces, '_', '-' or '.'")
        return self.folder / f"{name}.sql"

    def names(self) -> list[str]:
        if not self.folder.is_dir():
            return []
        return sorted(p.stem for p in self.folder.glob("*.sql"))

    def read(self, name: str) -> str:
        try:
            return self._path(name).read_text()
        except FileNotFoundError:
            raise SnippetError(f"no snippet named {name!r}") from None

    def save(self, name: str, sql: str) -> None:
        if len(sql.encode()) > MAX_BYTES:
            raise SnippetError("a snippet holds at most 1 MB")
        path = self._path(name)
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(sql)
        os.replace(tmp, path)

    def delete(self, name: str) -> None:
        self._path(name).unlink(missing_ok=True)
