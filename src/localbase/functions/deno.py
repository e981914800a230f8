"""Deno runtime: Supabase Edge Functions written for Deno (supabase/functions/<name>/index.ts),
run unchanged.

Each TypeScript function gets one long-lived `deno run` process, started on its first call:
deno_bootstrap.ts (evaluated first) makes the function's `Deno.serve(handler)` listen on
127.0.0.1 on a free port and report it on stdout; Localbase proxies each request to it (method,
`/<name>/<rest>` path as on Supabase, query, headers with Authorization, body) and streams the
answer back. The process restarts when a file of the function (or of `_shared/`) changes, is
killed with the server (its own process group, and the kernel's parent-death signal on Linux),
and may only use the network, the environment and read its own folder.

The processes themselves: deno_process.py.

Settings (supabase/localbase.toml, `[edge_runtime]`, Localbase-only keys):
`request_timeout_seconds` (150, Supabase's wall-clock limit), `boot_timeout_seconds` (20)."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from localbase.functions.config import timeouts
from localbase.functions.deno_process import BootError, DenoProcess, main_module, start_process
from localbase.functions.runner import BOOT_ERROR, WORKER_ERROR, error_response

if TYPE_CHECKING:
    import httpx

log = logging.getLogger("localbase.functions")
ENTRIES = ("index.ts", "index.js", "index.tsx", "index.jsx", "index.mjs")
SHARED = "_shared"  # Supabase's convention for code shared between functions (not a function)
SHARED_FILES = (".env", "deno.json", "deno.jsonc", "import_map.json")  # in supabase/functions/: for all
SKIP_DIRS = {"node_modules", ".git"}
BUFFERED_BODY_MAX = 1 << 20  # answers up to this size (with a Content-Length) are read whole
HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
              "trailers", "transfer-encoding", "upgrade", "content-length", "expect"}
# Not forwarded either: Deno.serve would compress on loopback, for nothing.
NOT_FORWARDED = HOP_BY_HOP | {"accept-encoding"}


def entry_of(fn_dir: Path, config: dict[str, Any], supabase_dir: Path) -> Path | None:
    """The function's module: config.toml's `[functions.<name>] entrypoint` (relative to supabase/,
    as the Supabase CLI reads it), else index.ts (or .js, .tsx, .jsx, .mjs) in its folder."""
    configured = config.get("entrypoint")
    if isinstance(configured, str) and configured:
        path = (supabase_dir / configured).resolve()
        return path if path.is_file() else None
    for name in ENTRIES:
        if (fn_dir / name).is_file():
            return fn_dir / name
    return None


def config_flags(fn_dir: Path, functions_dir: Path, config: dict[str, Any], supabase_dir: Path) -> list[str]:
    """The function's dependencies config, as the Supabase CLI finds it: config.toml's
    `[functions.<name>] import_map` (relative to supabase/), else a deno.json(c) in the function's
    folder (or supabase/functions/), else the legacy supabase/functions/import_map.json. The process's
    main module lives elsewhere, so deno would not find them on its own."""
    configured = config.get("import_map")
    if isinstance(configured, str) and configured:
        path = (supabase_dir / configured).resolve()
        return [f"--config={path}" if path.name in ("deno.json", "deno.jsonc") else f"--import-map={path}"]
    for folder in (fn_dir, functions_dir):
        for name in ("deno.json", "deno.jsonc"):
            if (folder / name).is_file():
                return [f"--config={folder / name}"]
    if (functions_dir / "import_map.json").is_file():
        return ["--no-config", f"--import-map={functions_dir / 'import_map.json'}"]
    return ["--no-config"]


def source_version(*folders: Path) -> float:
    """Newest modification time of the files (and folders) under `folders`."""
    newest = 0.0
    for folder in folders:
        if not folder.is_dir():
            continue
        for root, dirs, files in os.walk(folder):
            dirs[:] = [d for d in dirs if d not in SKIP_DIRS]
            newest = max(newest, os.stat(root).st_mtime)
            for name in files:
                with contextlib.suppress(OSError):  # a file replaced while we look
                    newest = max(newest, os.stat(os.path.join(root, name)).st_mtime)
    return newest


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def read_env_file(path: Path) -> dict[str, str]:
    """supabase/functions/.env (loaded for every function, as `supabase functions serve` does):
    KEY=VALUE lines, `#` comments, optional `export ` and quotes."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


class DenoRuntime:
    def __init__(self, settings: Any, env: dict[str, str]):
        self.functions_dir: Path = settings.functions_dir
        self.supabase_dir: Path = settings.supabase_dir
        self.deno_dir: Path = settings.data_dir / "deno"
        self.functions_config: dict[str, Any] = settings.section("functions")
        self.request_timeout, self.boot_timeout = timeouts(settings)
        self.env = env
        self._processes: dict[str, DenoProcess] = {}
        self._failed: dict[str, float] = {}  # name -> source version that failed to boot
        self._locks: dict[str, asyncio.Lock] = collections.defaultdict(asyncio.Lock)
        self._retiring: set[asyncio.Task] = set()
        self._http: httpx.AsyncClient | None = None  # made on the first call (httpx is not imported before)

    @property
    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            import httpx
            self._http = httpx.AsyncClient(timeout=None, trust_env=False, follow_redirects=False,
                                           limits=httpx.Limits(max_connections=None, max_keepalive_connections=64))
        return self._http

    # -- which functions are TypeScript ----------------------------------------------------------
    def entry(self, name: str) -> Path | None:
        return entry_of(self.functions_dir / name, self.functions_config.get(name, {}), self.supabase_dir)

    # -- processes -------------------------------------------------------------------------------
    async def process(self, name: str, entry: Path) -> DenoProcess:
        version = max(source_version(entry.parent, self.functions_dir / SHARED),
                      *(_mtime(self.functions_dir / f) for f in SHARED_FILES))
        current = self._processes.get(name)
        if current is not None and current.alive and current.version == version:
            return current
        async with self._locks[name]:
            current = self._processes.get(name)
            if current is not None and current.alive and current.version == version:
                return current
            if self._failed.get(name) == version:
                raise BootError(f"function {name} failed to start; it is retried when its files change")
            if current is not None:
                self._retire(self._processes.pop(name))
                log.info("restarting function %s (%s)", name, "files changed" if current.alive else "it exited")
            try:
                process = await self._start(name, entry, version)
            except BootError:
                self._failed[name] = version
                raise
            self._failed.pop(name, None)
            self._processes[name] = process
            return process

    async def _start(self, name: str, entry: Path, version: float) -> DenoProcess:
        fn_dir = entry.parent
        self.deno_dir.mkdir(parents=True, exist_ok=True)
        flags = ["--no-lock", *config_flags(fn_dir, self.functions_dir, self.functions_config.get(name, {}),
                                            self.supabase_dir),
                 "--allow-net", "--allow-env", f"--allow-read={fn_dir},{self.deno_dir}"]
        env = {**read_env_file(self.functions_dir / ".env"), **self.env, "DENO_DIR": str(self.deno_dir)}
        main = main_module(self.deno_dir / "processes", name, entry)
        return await start_process(name, version, flags=flags, main=main, cwd=fn_dir, env=env,
                                   boot_timeout=self.boot_timeout)

    def _retire(self, process: DenoProcess) -> None:
        """Stop an outdated process once its requests in flight are answered (at most the timeout)."""
        async def retire() -> None:
            deadline = asyncio.get_running_loop().time() + self.request_timeout
            while process.inflight and process.alive and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.05)
            await process.stop()
        task = asyncio.create_task(retire())
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)

    async def forget(self, name: str) -> None:
        """The function is gone (its folder or entry deleted): stop its process, if it has one."""
        self._failed.pop(name, None)
        process = self._processes.pop(name, None)
        if process is not None:
            log.info("function %s was removed; stopping its process", name)
            self._retire(process)

    async def close(self) -> None:
        processes, self._processes = list(self._processes.values()), {}
        await asyncio.gather(*(w.stop() for w in processes), *self._retiring, return_exceptions=True)
        if self._http is not None:
            await self._http.aclose()

    # -- requests --------------------------------------------------------------------------------
    async def invoke(self, name: str, entry: Path, request: Request) -> Response:
        try:
            process = await self.process(name, entry)
        except BootError as exc:
            log.error("%s", exc)
            return error_response(503, "BOOT_ERROR", BOOT_ERROR, relay=True)
        raw_path = request.scope.get("raw_path") or request.url.path.encode()
        tail = raw_path.split(b"/functions/v1/", 1)[-1].decode("latin-1")
        query = request.url.query
        url = f"http://127.0.0.1:{process.port}/{tail}" + (f"?{query}" if query else "")
        headers = [(k, v) for k, v in request.headers.raw if k.decode("latin-1").lower() not in NOT_FORWARDED]
        body = await request.body()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.request_timeout
        import httpx
        process.inflight += 1
        streaming = False
        try:
            upstream = self._client.build_request(request.method, url, headers=headers, content=body)
            try:
                async with asyncio.timeout_at(deadline):
                    response = await self._client.send(upstream, stream=True)
            except TimeoutError:
                return self._timed_out(name)
            except httpx.TransportError as exc:
                log.error("function %s: the process did not answer (%s: %s)", name, type(exc).__name__, exc)
                return error_response(500, "WORKER_ERROR", WORKER_ERROR)
            out_headers = [(k, v) for k, v in response.headers.raw  # the server adds its own Date
                           if k.decode("latin-1").lower() not in (HOP_BY_HOP - {"content-length"}) | {"date"}]
            length = response.headers.get("content-length")
            if length is not None and length.isdigit() and int(length) <= BUFFERED_BODY_MAX:
                try:
                    async with asyncio.timeout_at(deadline):
                        content = await response.aread()
                except TimeoutError:
                    return self._timed_out(name)
                except httpx.TransportError as exc:
                    log.error("function %s: the answer broke off (%s)", name, exc)
                    return error_response(500, "WORKER_ERROR", WORKER_ERROR)
                finally:
                    await response.aclose()
                answer = Response(content, status_code=response.status_code)
                answer.raw_headers = out_headers
                return answer
            streaming = True
            answer = StreamingResponse(self._relay(name, process, response, deadline),
                                       status_code=response.status_code)
            answer.raw_headers = [(k, v) for k, v in out_headers if k.lower() != b"content-length"] \
                if length is None else out_headers
            return answer
        finally:
            if not streaming:
                process.inflight -= 1

    def _timed_out(self, name: str) -> Response:
        log.error("function %s timed out after %.0fs", name, self.request_timeout)
        return error_response(546, "WORKER_LIMIT", f"Function {name} timed out after {self.request_timeout:.0f}s",
                              relay=True)

    async def _relay(self, name: str, process: DenoProcess, response: httpx.Response, deadline: float):
        """The function's answer as it comes (server-sent events, large bodies), cut at the deadline."""
        import httpx
        loop = asyncio.get_running_loop()
        chunks = response.aiter_raw()
        try:
            while True:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise TimeoutError
                try:
                    chunk = await asyncio.wait_for(anext(chunks), remaining)
                except StopAsyncIteration:
                    return
                yield chunk
        except TimeoutError:
            log.error("function %s: answer cut off at the %.0fs limit", name, self.request_timeout)
        except httpx.TransportError as exc:
            log.error("function %s: the answer broke off (%s)", name, exc)
        finally:
            process.inflight -= 1
            await response.aclose()
