"""Deno function processes: one `deno run` per TypeScript function, started with the bootstrap
evaluated first, watched (its output goes to the server log), and stopped with its process group.
On Linux the kernel kills a process whose server dies, even by kill -9 (parent-death signal)."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import ctypes
import logging
import os
import secrets
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger("localbase.functions")
BOOTSTRAP = Path(__file__).with_name("deno_bootstrap.ts")
STOP_GRACE_S = 3.0
# Passed from the server's environment (nothing else is): what deno needs to run and to download
# npm:/jsr: modules, behind a corporate proxy and its CA included.
PASSTHROUGH_ENV = ("PATH", "HOME", "TZ", "LANG", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy",
                   "https_proxy", "no_proxy", "DENO_CERT", "DENO_TLS_CA_STORE", "NODE_EXTRA_CA_CERTS",
                   "SSL_CERT_FILE")


class BootError(Exception):
    """The process did not start listening; details are in the server log."""


def deno_binary() -> str:
    """The deno executable of the `deno` wheel (a dependency), else one on PATH."""
    try:
        import deno  # the official wheel: ships the binary beside the interpreter's scripts
        return deno.find_deno_bin()
    except (ImportError, FileNotFoundError):
        import shutil
        found = shutil.which("deno")
        if found is None:
            raise BootError("no deno executable: pip install 'deno>=2'") from None
        return found


def output_log(name: str) -> logging.Logger:
    """The function's own output (console.log at INFO, console.error at WARNING) is shown like a
    program's output: also when the server logs only warnings (its default for text logs)."""
    logger = logging.getLogger(f"localbase.functions.{name}")
    if logger.level == logging.NOTSET:
        root = logging.getLogger().level
        logger.setLevel(logging.INFO if root <= logging.WARNING else root)
    return logger


def _child_setup():
    """preexec_fn: the kernel kills the process if Localbase dies (Linux), even by kill -9."""
    parent = os.getpid()
    libc = ctypes.CDLL("libc.so.6", use_errno=True) if sys.platform.startswith("linux") else None

    def arm() -> None:
        if libc is not None:
            libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
            if os.getppid() != parent:  # the parent died before the line above
                os._exit(1)

    return arm


@dataclass
class DenoProcess:
    name: str
    version: float
    process: asyncio.subprocess.Process
    port: int = 0
    inflight: int = 0
    stopping: bool = False  # a planned stop (reload, shutdown), not a crash
    stderr_tail: collections.deque = field(default_factory=lambda: collections.deque(maxlen=40))
    tasks: list[asyncio.Task] = field(default_factory=list)

    @property
    def alive(self) -> bool:
        return self.process.returncode is None

    def signal(self, sig: int) -> None:
        if self.alive:  # not reaped yet: the process group is still ours
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, sig)  # its own group (start_new_session)

    async def stop(self, grace: float = STOP_GRACE_S) -> None:
        self.stopping = True
        if self.alive:
            self.signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), grace)
            except TimeoutError:
                self.signal(signal.SIGKILL)
                await self.process.wait()
        if self.tasks:  # the readers take the last lines it wrote, then stop
            await asyncio.wait(self.tasks, timeout=0.5)
        for task in self.tasks:
            task.cancel()


def main_module(folder: Path, name: str, entry: Path) -> Path:
    """The process's main module: the bootstrap first, then the function, statically imported
    (so relative imports such as ../_shared/ load without any read permission)."""
    folder.mkdir(parents=True, exist_ok=True)
    main = folder / f"{name}.ts"
    text = (f'import {{ start }} from "{BOOTSTRAP.resolve().as_uri()}";\n'
            f'import * as entry from "{entry.resolve().as_uri()}";\n'
            "start(entry);\n")
    if not main.is_file() or main.read_text() != text:
        main.write_text(text)
    return main


async def start_process(name: str, version: float, *, flags: list[str], main: Path, cwd: Path,
                       env: dict[str, str], boot_timeout: float) -> DenoProcess:
    """Start `deno run` on `main`; return once the function listens, else raise BootError (the
    reason and deno's last output go to the server log)."""
    ready = secrets.token_hex(8)
    env = {**env, "NO_COLOR": "1", "DENO_NO_UPDATE_CHECK": "1",
           "LOCALBASE_FUNCTION_READY": ready, "LOCALBASE_FUNCTION_PORT": "0"}
    for key in PASSTHROUGH_ENV:
        if key in os.environ and key not in env:
            env[key] = os.environ[key]
    loop = asyncio.get_running_loop()
    started = loop.time()
    process = await asyncio.create_subprocess_exec(
        deno_binary(), "run", "--no-prompt", *flags, str(main), cwd=cwd, env=env,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        start_new_session=True, preexec_fn=_child_setup())
    function = DenoProcess(name, version, process)
    listening: asyncio.Future[int] = loop.create_future()
    function.tasks = [asyncio.create_task(_read_stdout(function, ready, listening)),
                      asyncio.create_task(_read_stderr(function))]
    exited = asyncio.ensure_future(process.wait())
    try:
        done, _ = await asyncio.wait({listening, exited}, timeout=boot_timeout,
                                     return_when=asyncio.FIRST_COMPLETED)
        if listening in done:
            function.port = listening.result()
            function.tasks.append(asyncio.create_task(_watch(function, exited)))
            log.info("function %s started in %.0f ms (deno pid %d, port %d)", name,
                     (loop.time() - started) * 1000, process.pid, function.port)
            return function
        reason = (f"exited with code {process.returncode}" if exited in done
                  else f"did not listen within {boot_timeout:.0f}s")
    except BaseException:
        await function.stop(grace=0.5)
        raise
    await function.stop(grace=0.5)
    tail = "\n".join(function.stderr_tail) or "(no output)"
    log.error("function %s failed to start: deno %s. Its last output:\n%s", name, reason, tail)
    raise BootError(f"function {name} failed to start")


async def _read_stdout(function: DenoProcess, ready: str, listening: asyncio.Future[int]) -> None:
    fn_log = output_log(function.name)
    assert function.process.stdout is not None
    async for raw in function.process.stdout:
        line = raw.decode(errors="replace").rstrip()
        if not listening.done() and line.startswith(ready + " "):
            listening.set_result(int(line.split()[1]))
        elif line:
            fn_log.info("%s", line)


async def _read_stderr(function: DenoProcess) -> None:
    fn_log = output_log(function.name)
    assert function.process.stderr is not None
    async for raw in function.process.stderr:
        line = raw.decode(errors="replace").rstrip()
        if line:
            function.stderr_tail.append(line)
            fn_log.warning("%s", line)


async def _watch(function: DenoProcess, exited: asyncio.Future) -> None:
    code = await exited
    if not function.stopping:
        log.error("function %s exited with code %s; it restarts on the next request", function.name, code)
