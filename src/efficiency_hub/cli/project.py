"""Where the hub's Supabase project folder is, and how to reach a running backend.

The CLI is the one part of the hub allowed to know Localbase: it can start one, and read a
running one's URL and keys. Everything else reaches the backend through SUPABASE_URL and keys."""

from __future__ import annotations

import json
import os
from pathlib import Path

import efficiency_hub
from efficiency_hub.settings import HubSettings


def project_dir(explicit: Path | None = None) -> Path:
    """`explicit`, else the current folder if it holds supabase/config.toml, else the checkout the
    hub was installed from (an editable install)."""
    candidates = [explicit] if explicit else [Path.cwd(), Path(efficiency_hub.__file__).resolve().parents[2]]
    for folder in candidates:
        if folder and (folder / "supabase" / "config.toml").is_file():
            return folder.resolve()
    where = explicit or Path.cwd()
    raise FileNotFoundError(f"no supabase/config.toml in {where}: run from the hub's checkout or pass --workdir")


def running_localbase(project: Path, data_dir: Path | None = None) -> HubSettings | None:
    """The settings of a Localbase running on `project` (its state and keys files), if any."""
    from localbase.process.server import process_alive

    data = Path(data_dir or os.environ.get("LOCALBASE_DATA_DIR") or project / ".localbase")
    try:
        state = json.loads((data / "server.json").read_text())
        keys = json.loads((data / "keys.json").read_text())
    except (OSError, ValueError):
        return None
    if not process_alive(int(state.get("pid", 0))):
        return None
    return HubSettings(state["api_url"], keys["anon_key"], keys["service_role_key"])


def discover(project: Path | None = None, data_dir: Path | None = None) -> HubSettings | None:
    """SUPABASE_URL and keys from the environment (a real Supabase project), else a running
    Localbase on the project folder."""
    if os.environ.get("SUPABASE_URL") or os.environ.get("API_URL"):
        return HubSettings.from_env()
    try:
        return running_localbase(project_dir(project), data_dir)
    except FileNotFoundError:
        return None


def chosen_backend(project: Path | None = None, data_dir: Path | None = None) -> HubSettings | None:
    """The Localbase running on `data_dir` when one is named (--data-dir), else discover()."""
    if data_dir is None:
        return discover(project)
    try:
        return running_localbase(project_dir(project), data_dir)
    except FileNotFoundError:
        return None
