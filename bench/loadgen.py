"""Load from wrk (a C load generator, Debian's `wrk` package) and the server's CPU read from
/proc, so a benchmark measures the server and not a Python client."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from bench.procs import proc_cpu_seconds

TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Run:
    requests: int
    errors: int  # non-2xx/3xx answers and socket errors
    seconds: float
    p99_ms: float
    cpu_seconds: float  # the server process's user + system time during the run
    children_cpu_seconds: float = 0.0  # its child processes' (e.g. the embedded Redis)

    @property
    def rate(self) -> float:
        return (self.requests - self.errors) / self.seconds

    @property
    def cpu_us(self) -> float:
        """Server CPU per answered request, in microseconds."""
        return self.cpu_seconds * 1e6 / max(1, self.requests - self.errors)

    @property
    def children_cpu_us(self) -> float:
        """The server's child processes' CPU per answered request, in microseconds."""
        return self.children_cpu_seconds * 1e6 / max(1, self.requests - self.errors)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def wrk(
    url: str,
    pid: int,
    *,
    seconds: float,
    connections: int,
    lua: str = "",
    threads: int = 1,
) -> Run:
    """Run wrk against `url` for `seconds` (with an optional Lua script) while measuring the
    server process `pid`."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(lua)
    args = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "--latency"]
    args += ["-s", script.name, url] if lua else [url]
    try:
        before, children = cpu_seconds(pid), proc_cpu_seconds(pid)
        out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
        used = cpu_seconds(pid) - before
        children = proc_cpu_seconds(pid) - children - used
    finally:
        os.unlink(script.name)
    return replace(_parse(out, seconds, used), children_cpu_seconds=max(children, 0.0))


def _parse(out: str, seconds: float, cpu: float) -> Run:
    total = re.search(r"(\d+) requests in ([\d.]+)(m?s)", out)
    if total is None:
        raise RuntimeError("unexpected wrk output:\n" + out)
    took = float(total.group(2)) * (1e-3 if total.group(3) == "ms" else 1)
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if sock:
        errors += sum(int(n) for n in sock.groups())
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 1e-3, "ms": 1.0, "s": 1e3}
    p99_ms = float(p99.group(1)) * scale[p99.group(2)] if p99 else float("nan")
    return Run(int(total.group(1)), errors, took or seconds, p99_ms, cpu)


def cycle_bodies(method: str, bodies: list[str], content_type: str = "text/plain") -> str:
    """A wrk Lua script that sends `bodies` in turn (one per request)."""
    quoted = ",".join("[[" + b + "]]" for b in bodies)
    return (
        f'wrk.method = "{method}"\n'
        f'wrk.headers["Content-Type"] = "{content_type}"\n'
        f"local bodies = {{{quoted}}}\n"
        "local n = 0\n"
        "request = function()\n"
        "  n = n % #bodies + 1\n"
        "  return wrk.format(nil, nil, nil, bodies[n])\n"
        "end\n"
    )
