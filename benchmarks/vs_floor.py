"""The HTTP floor, for benchmarks/vs_pocketbase.py: what a read costs over HTTP with none of Localbase's
stages. A bare ASGI app on the server's HTTP stack (uvicorn, httptools, uvloop; no access log) that
answers each request of a read's request file by running exactly what benchmarks/vs_raw.py runs for
it (the server's statements, prepared up front, on a pool the size of the server's): no gateway, no
JWT check, no parsing, planning or rendering, no error shape. Localbase / floor is then what our own
stages cost on top of HTTP and the database, and floor / raw the most any server on this HTTP stack
and asyncpg could reach against raw asyncpg.

Run as its own process (as the server is): `python benchmarks/vs_floor.py PREPARED PORT`, PREPARED a
pickle of {"dsn": ..., "requests": {(target, authorization): vs_raw.Prepared}} (FloorSide writes it)."""

from __future__ import annotations

import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
if __name__ == "__main__":
    sys.path[:0] = [str(ROOT), str(ROOT / "src")]

from benchmarks import vs_raw  # noqa: E402
from localbase.testing.server import free_port  # noqa: E402

NOT_PREPARED = b'{"message":"not a request of the prepared files"}'


def request_key(target: str, headers: str) -> tuple[str, str]:
    """(path?query, Authorization) of a request file's line parts, as the app finds them in a request."""
    return target, vs_raw.line_headers(headers).get("authorization", "")


def app(dsn: str, requests: dict[tuple[str, str], vs_raw.Prepared]):
    from localbase.database.pool import rest_pool, session_facts
    from localbase.rest import execute

    state: dict = {}

    async def lifespan(receive, send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                state["pool"] = await rest_pool(dsn, vs_raw.POOL_SIZE, min_size=vs_raw.POOL_SIZE).open()
                async with state["pool"].acquire() as conn:
                    state["timeout"] = (await session_facts(conn))[1]
                await send({"type": "lifespan.startup.complete"})
            else:
                await state["pool"].close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def asgi(scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            return await lifespan(receive, send)
        auth = next((v.decode() for k, v in scope["headers"] if k == b"authorization"), "")
        query = scope["query_string"].decode()
        p = requests.get((scope["path"] + ("?" + query if query else ""), auth))
        if p is None:
            status, body = 404, NOT_PREPARED
        else:  # as vs_raw's replay on a direct connection: the session's context, then the statement
            async with state["pool"].acquire() as conn:
                await conn.fetchval(execute.SET_READ_SESSION, p.caller.role, p.caller.claims_json, p.ctx.method,
                                    p.ctx.path, p.ctx.headers_json, p.ctx.search_path, p.timeout or state["timeout"])
                row = await conn.fetchrow(p.statement.sql, *p.statement.args)
            status, body = 200, (row["body"] or "").encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})

    return asgi


class FloorSide:
    """The floor app in its own process, serving the prepared reads of request files: `files`, a
    workload's name -> (its request file, vs_raw.prepare's answer for that file)."""
    name = "floor"

    def __init__(self, dsn: str, files: dict[str, tuple[Path, list[vs_raw.Prepared]]]):
        self.files = {workload: path for workload, (path, _) in files.items()}  # wrk replays them (vs_sides.Side)
        requests: dict[tuple[str, str], vs_raw.Prepared] = {}
        for path, prepared in files.values():
            for line, p in zip(path.read_text().splitlines(), prepared, strict=True):
                _method, target, headers = line.split("\t")[:3]
                requests[request_key(target, headers)] = p
        self._tmp = tempfile.TemporaryDirectory(prefix="vs-floor-")
        self._prepared = Path(self._tmp.name) / "prepared.pickle"
        self._prepared.write_bytes(pickle.dumps({"dsn": dsn, "requests": requests}))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, timeout: float = 30) -> FloorSide:
        self.process = subprocess.Popen([sys.executable, __file__, str(self._prepared), str(self.port)])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the floor app exited with {self.process.returncode}")
            try:
                httpx.get(f"{self.url}/", timeout=1)
                return self
            except httpx.TransportError:
                time.sleep(0.05)
        raise TimeoutError("the floor app did not answer")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
        self._tmp.cleanup()


def main() -> None:
    import uvicorn

    data = pickle.loads(Path(sys.argv[1]).read_bytes())
    uvicorn.run(app(data["dsn"], data["requests"]), host="127.0.0.1", port=int(sys.argv[2]), loop="uvloop",
                http="httptools", log_level="warning", access_log=False, lifespan="on")


if __name__ == "__main__":
    main()
