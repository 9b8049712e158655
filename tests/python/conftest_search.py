"""A real Chroma server for the search tests: ``chroma run`` from the PyPI
chromadb package, on 127.0.0.1 and a free port, with its own data folder.

Test modules use it with ``chroma_server = conftest_search.chroma_server``.
A server that cannot start fails the tests; it never skips them.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class ChromaServer:
    """A running ``chroma run`` process; ``kill()`` is SIGKILL, like a crash."""

    path: Path
    port: int = field(default_factory=free_port)
    host: str = "127.0.0.1"
    proc: subprocess.Popen | None = None
    log: Path | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 60.0) -> None:
        exe = shutil.which("chroma")
        if exe is None:
            pytest.fail("the `chroma` CLI is required for the search tests: pip install chromadb")
        self.log = self.path.parent / f"chroma-{self.port}-{time.monotonic_ns()}.log"
        with open(self.log, "wb") as logf:
            self.proc = subprocess.Popen(
                [exe, "run", "--path", str(self.path), "--port", str(self.port), "--host", self.host],
                stdout=logf,
                stderr=subprocess.STDOUT,
                env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"chroma exited during start-up ({self.proc.returncode}): {self.log_tail()}")
            try:
                with urllib.request.urlopen(self.url + "/api/v2/heartbeat", timeout=1) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.1)
        self.kill()
        pytest.fail(f"chroma did not answer within {timeout} s: {self.log_tail()}")

    def version(self) -> str:
        with urllib.request.urlopen(self.url + "/api/v2/version", timeout=5) as resp:
            return resp.read().decode().strip('"')

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None

    def restart(self) -> None:
        self.kill()
        self.start()

    def log_tail(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-2000:] if self.log else ""
        except OSError:
            return ""


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChromaServer]:
    """One server per test module."""
    server = ChromaServer(tmp_path_factory.mktemp("chroma") / "data")
    server.start()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
def fresh_chroma_server(tmp_path: Path) -> Iterator[ChromaServer]:
    """A server of the test's own, for tests that kill it."""
    server = ChromaServer(tmp_path / "chroma-data")
    server.start()
    try:
        yield server
    finally:
        server.kill()
