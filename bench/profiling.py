"""Sampling profiles of live server workers with py-spy, summarised as the top functions.

py-spy attaches to the running gunicorn workers (`--subprocesses` from the master), so the
profile covers exactly what the benchmark measured: HTTP parsing, Django, the view and the
database driver. Samples count only threads that were running (idle waits are excluded), so
the percentages are shares of the workers' CPU time.
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

REPO = str(Path(__file__).resolve().parent.parent) + "/"
_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


def py_spy_binary() -> str | None:
    candidate = Path(sys.executable).parent / "py-spy"
    return str(candidate) if candidate.exists() else shutil.which("py-spy")


class PySpy:
    """`py-spy record` on a process and its children, from start() until stop()."""

    def __init__(self, pid: int, output: Path, rate: int = 200) -> None:
        self.pid = pid
        self.output = output
        self.rate = rate
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = py_spy_binary()
        if binary is None:
            raise RuntimeError("py-spy is not installed (pip install -r requirements-dev.txt)")
        self._process = subprocess.Popen(
            [
                binary,
                "record",
                "--pid",
                str(self.pid),
                "--subprocesses",
                "--format",
                "raw",
                "--rate",
                str(self.rate),
                "--output",
                str(self.output),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(1.0)  # attaching takes a moment; the requests must not start before it

    def stop(self) -> None:
        if self._process is None:
            return
        self._process.send_signal(signal.SIGINT)
        try:
            self._process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process = None


def _short(frame: str) -> str:
    """`function (path:line)` -> `function (package/module.py)`: aggregate per function."""
    match = _FRAME.match(frame.strip())
    if match is None:
        return frame.strip()
    path = match.group("file").removeprefix(REPO)
    for marker in ("site-packages/", "lib/python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{match.group('func')} ({path})"


# The frame under which a gunicorn worker handles one request.
REQUEST_FRAME = "WSGIHandler.__call__"


def summarize(raw: Path, top: int = 30, within: str = REQUEST_FRAME) -> str:
    """Top functions by self and inclusive share of the samples taken inside request handling.

    Samples outside `within` (idle thread pools, the accept loop, the arbiter) are left out:
    py-spy cannot always tell a blocked C call from a busy one.
    """
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = everything = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [f for f in stack.split(";") if f and not f.startswith("process ")]
        if not frames:
            continue
        everything += count
        if within and not any(within in f for f in frames):
            continue
        total += count
        names = [_short(f) for f in frames]
        own[names[-1]] += count
        for name in set(names):
            inclusive[name] += count
    if not total:
        return "py-spy recorded no samples."
    lines = [
        f"{total} samples inside request handling ({within}), of {everything} samples of"
        " threads py-spy saw as active; percentages are of the former.",
        "Database time shows as self time in CursorWrapper._execute / _commit (psycopg2 waits).",
        "",
        "Self time:",
    ]
    lines += [f"  {100 * n / total:5.1f}%  {name}" for name, n in own.most_common(top)]
    # Frames under which every request runs (threads, middleware) say nothing: left out.
    telling = [(name, n) for name, n in inclusive.most_common() if n < 0.99 * total]
    lines += ["", "Inclusive time (callees included; frames common to all requests left out):"]
    lines += [f"  {100 * n / total:5.1f}%  {name}" for name, n in telling[:top]]
    return "\n".join(lines)
