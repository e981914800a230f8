"""Debian's chromium for the browser tests (Playwright downloads no browser here)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")


def chromium_or_skip(what: str) -> str:
    """Its path; the test is skipped, loudly, when it is not installed."""
    if not CHROMIUM.is_file():
        message = (f"!!! {CHROMIUM} IS MISSING: {what} DID NOT RUN. "
                   "Install it with `apt-get install -y chromium` (.ci/run does, as root). !!!")
        print(f"\n{message}", file=sys.stderr)
        pytest.skip(message)
    return str(CHROMIUM)
