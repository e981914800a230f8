"""uvicorn without its command line (process/uvicorn_import.py): what the package exports is the
same as an ordinary `import uvicorn` gives, and the API's imports leave click and the reload
supervisors out. In fresh interpreters (a test process may have imported uvicorn already)."""

from __future__ import annotations

import subprocess
import sys

from tests.localbase.helpers import temp_project


def run(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()


def test_the_exported_names_are_uvicorns_own():
    installed = run(
        "import sys; from localbase.process import uvicorn_import; uvicorn_import.install()\n"
        "import uvicorn, uvicorn.config, uvicorn.server, uvicorn.lifespan.on\n"
        "from uvicorn import Config, Server\n"
        "assert Config is uvicorn.Config is uvicorn.config.Config and uvicorn.lifespan.on.Config is Config\n"
        "assert Server is uvicorn.Server is uvicorn.server.Server\n"
        "print('click' in sys.modules, 'uvicorn.main' in sys.modules)\n"
        "import uvicorn.main\n"
        "assert uvicorn.run is uvicorn.main.run and uvicorn.main is sys.modules['uvicorn.main']\n"
        "print(uvicorn.__version__, sorted(uvicorn.__all__))\n"
        "try:\n    uvicorn.nothing_here\nexcept AttributeError as exc:\n    print(exc)\n")
    plain = run("import uvicorn; print(uvicorn.__version__, sorted(uvicorn.__all__))")
    assert installed.splitlines() == ["False False", plain, "module 'uvicorn' has no attribute 'nothing_here'"]


def test_the_api_imports_leave_out_click_and_the_reloaders():
    with temp_project("lb-uvicorn-") as root:
        out = run("import sys\n"
                  "from localbase.settings import load_settings\n"
                  "from localbase.process.server import import_api\n"
                  f"import_api(load_settings({str(root)!r}, with_keys=False))\n"
                  "print(sorted(m for m in sys.modules if m.split('.')[0] in ('click', 'multiprocessing', "
                  "'watchfiles') or m.startswith('uvicorn.supervisors') or m == 'uvicorn.main'))\n"
                  "print('uvicorn.protocols.websockets.websockets_sansio_impl' in sys.modules or "
                  "'uvicorn.protocols.websockets.websockets_impl' in sys.modules)")
    assert out.splitlines() == ["[]", "True"]
