import gc
import sys

if sys.argv[1:2] == ["start"]:
    # Start-up allocates ~80k long-lived objects (modules, the app): the collector would scan them
    # ~100 times (~50 ms of a start) to find a few hundred garbage ones. It is enabled again when
    # the API serves (process/collector.py, which then freezes what start-up made; server.run).
    gc.disable()

from localbase.cli.main import app  # noqa: E402

app(prog_name="localbase")
