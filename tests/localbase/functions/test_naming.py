"""'Worker' means an API process only (localbase/process/); a Deno function's process is a function
process. The Edge Runtime's own error codes (WORKER_ERROR, WORKER_LIMIT) are the protocol's."""

from __future__ import annotations

import re
from pathlib import Path

import localbase.functions

FUNCTIONS = Path(localbase.functions.__file__).parent


def test_the_functions_service_never_calls_its_processes_workers():
    found = [f"{path.name}:{n}: {line.strip()}"
             for path in sorted(FUNCTIONS.glob("*.*")) if path.suffix in (".py", ".ts")
             for n, line in enumerate(path.read_text().splitlines(), 1)
             if re.search(r"worker", re.sub(r"WORKER_(ERROR|LIMIT)|API worker", "", line), re.IGNORECASE)]
    assert found == []
