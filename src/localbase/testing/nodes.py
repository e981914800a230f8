"""Several Localbase nodes on one PostgreSQL behind a round-robin proxy, for tests and benchmarks:
each node a `localbase start --db-url ... --node-id n<i>` of its own (its own process, data folder
and port), all with the same keys (set by environment, as a deployment sets them), on a
PostgreSQL server of their own (testing/postgres.py) or one given.

`LocalbaseNodes` answers what tests ask a `LocalbaseProcess` (url, keys, db_url, output()), the
url being the proxy's, so a suite written for one server runs unchanged against the nodes
(LOCALBASE_TEST_NODES=N, see plugin.py).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import tempfile
import threading
from pathlib import Path

from localbase.security.keys import PUBLISHABLE_PREFIX, SECRET_PREFIX, make_api_key, make_opaque_key
from localbase.testing.postgres import PostgresServer
from localbase.testing.proxy import RoundRobinProxy
from localbase.testing.server import LocalbaseProcess, ProjectKeys


def shared_keys() -> dict[str, str]:
    """A deployment's keys, as its operator would generate them once for every node."""
    secret = secrets.token_urlsafe(48)
    return {"jwt_secret": secret, "anon_key": make_api_key("anon", secret),
            "service_role_key": make_api_key("service_role", secret),
            "publishable_key": make_opaque_key(PUBLISHABLE_PREFIX), "secret_key": make_opaque_key(SECRET_PREFIX)}


def keys_env(keys: dict[str, str]) -> dict[str, str]:
    return {f"LOCALBASE_{name.upper()}": value for name, value in keys.items()}


class LocalbaseNodes(ProjectKeys):
    def __init__(self, project_dir: Path | str, count: int = 3, *, env: dict[str, str] | None = None,
                 extra_args: list[str] | None = None, postgres: PostgresServer | None = None,
                 per_request: bool = True, node_env: dict[int, dict[str, str]] | None = None):
        self.project_dir = Path(project_dir).resolve()
        self.count = count
        self.env = env or {}
        self.extra_args = extra_args or []
        self.own_postgres = postgres is None
        self.postgres = postgres or PostgresServer()
        self.per_request = per_request
        self.node_env = node_env or {}
        self.keys = shared_keys()
        self._tmp = tempfile.TemporaryDirectory(prefix="localbase-nodes-")
        self.nodes: list[LocalbaseProcess] = []
        self.proxy: RoundRobinProxy | None = None

    # -- what a test asks of a server -----------------------------------------------------------
    @property
    def url(self) -> str:
        return self.proxy.url  # type: ignore[union-attr]

    def key_map(self) -> dict[str, str]:
        return self.keys

    @property
    def db_url(self) -> str:
        return self.postgres.url

    @property
    def db_password(self) -> str:
        return self.postgres.password

    @property
    def data_dir(self) -> Path:
        return self.nodes[0].data_dir

    def output(self) -> str:
        return "\n".join(f"--- node n{i} ---\n{node.output()[-2500:]}" for i, node in enumerate(self.nodes))

    # -- lifecycle -------------------------------------------------------------------------------
    def node(self, index: int) -> LocalbaseProcess:
        """Node `index` (n<index>), made on first use; started by start() or by the caller."""
        while len(self.nodes) <= index:
            i = len(self.nodes)
            env = {**self.env, **keys_env(self.keys), "LOCALBASE_NODE_ID": f"n{i}", **self.node_env.get(i, {})}
            self.nodes.append(LocalbaseProcess(self.project_dir, Path(self._tmp.name) / f"n{i}", env=env,
                                               extra_args=["--db-url", self.postgres.url, *self.extra_args],
                                               new_session=True))
        return self.nodes[index]

    def start(self, timeout: float = 120.0) -> LocalbaseNodes:
        if self.own_postgres and self.postgres.process is None:
            self.postgres.start()
        nodes = [self.node(i) for i in range(self.count)]
        self.proxy = RoundRobinProxy([("127.0.0.1", n.port) for n in nodes], per_request=self.per_request).start()
        for node in nodes:  # links in mails point at the load balancer, as [auth] external_url says in production
            node.env.setdefault("LOCALBASE_AUTH_EXTERNAL_URL", self.proxy.url)
        errors: list[BaseException] = []

        def start(node: LocalbaseProcess) -> None:
            try:
                node.start(timeout)
            except BaseException as exc:  # noqa: BLE001 - re-raised below, after the others
                errors.append(exc)

        threads = [threading.Thread(target=start, args=(n,)) for n in nodes]  # at once: migrations take turns
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            self.cleanup()
            raise errors[0]
        self.proxy.backends = [("127.0.0.1", n.port) for n in nodes]  # a node whose port was taken took another
        return self

    def kill(self, index: int) -> None:
        """kill -9 node `index` and every process it started (as if its host died)."""
        node = self.nodes[index]
        if node.process is not None:
            with contextlib.suppress(ProcessLookupError):  # already gone
                os.killpg(node.process.pid, signal.SIGKILL)
        node.kill()

    def cleanup(self) -> None:
        if self.proxy is not None:
            self.proxy.stop()
        for node in self.nodes:
            node.stop()
        if self.own_postgres:
            self.postgres.stop()
        self._tmp.cleanup()

    def __enter__(self) -> LocalbaseNodes:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.cleanup()
