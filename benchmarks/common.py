"""Shared pieces of the benchmark: sizes, paths, timing, databases, machine and memory facts."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import re
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks"
WORK = BENCH / "work"
# The floor app, served as `make run` serves the dashboard (its modules imported at start).
FLOOR_SCRIPT = BENCH / "floor_serve.py"
PYTHON = sys.executable
POSTGRES_ADMIN_DSN = os.environ.get(
    "BENCH_POSTGRES_ADMIN_DSN", "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
)
POSTGRES_URL_BASE = os.environ.get(
    "BENCH_POSTGRES_URL_BASE", "postgresql+psycopg://postgres@127.0.0.1:5432"
)
CHROMIUM = os.environ.get("BENCH_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SEED = 20160101  # sample_data.generate's default seed

T = TypeVar("T")


@dataclass(frozen=True)
class Size:
    name: str
    members: int
    # How many whole loads to time at this size (each into a fresh database). The 10M load
    # takes minutes per engine, so the large size is loaded once unless asked otherwise.
    load_repeats: int

    @property
    def label(self) -> str:
        return f"{self.name} ({self.members:,} members)"


SIZES: dict[str, Size] = {
    "small": Size("small", 10_000, 3),
    "medium": Size("medium", 100_000, 2),
    "large": Size("large", 1_000_000, 1),
}
ENGINES = ("sqlite", "postgresql")


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def timed(fn: Callable[[], T]) -> tuple[float, T]:
    """(seconds, result) of one call."""
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def dataset_dir(size: Size, seed: int = SEED) -> Path:
    return WORK / "data" / f"members-{size.members}-seed-{seed}"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- databases ---------------------------------------------------------------------------


def _admin() -> Any:
    import psycopg

    return psycopg.connect(POSTGRES_ADMIN_DSN, autocommit=True, connect_timeout=5)


def new_database(engine_name: str, tag: str) -> str:
    """Create a fresh, empty database of the engine and return its SQLAlchemy URL."""
    # The creating process's id is in the name: a later run drops only databases whose
    # process is gone, never those of a run still going on beside it.
    name = f"bench_{tag}_p{os.getpid()}_{uuid.uuid4().hex[:6]}"
    if engine_name == "sqlite":
        path = WORK / "db" / f"{name}.sqlite"
        path.parent.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{path}"
    with _admin() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return f"{POSTGRES_URL_BASE}/{name}"


def drop_database(url: str) -> None:
    from data_access import db

    db.dispose_engines()
    if url.startswith("sqlite"):
        path = Path(url.split("sqlite:///", 1)[1])
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    name = url.rsplit("/", 1)[1]
    with _admin() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


_OWNER = re.compile(r"_p(\d+)_[0-9a-f]{6}")


def _owner_alive(name: str) -> bool:
    match = _OWNER.search(name)
    if not match:
        return False
    try:
        os.kill(int(match.group(1)), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def drop_leftover_databases() -> list[str]:
    """Drop bench_* databases that a killed earlier run left behind (their process is gone)."""
    dropped = []
    try:
        with _admin() as admin:
            rows = admin.execute(
                "SELECT datname FROM pg_database WHERE datname LIKE 'bench\\_%'"
            ).fetchall()
            for (name,) in rows:
                if not _owner_alive(name):
                    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                    dropped.append(name)
    except Exception:  # PostgreSQL down: the run reports it where it is needed
        pass
    for path in (WORK / "db").glob("bench_*"):
        if not _owner_alive(path.name):
            path.unlink(missing_ok=True)
            dropped.append(path.name)
    return dropped


@contextmanager
def database(engine_name: str, tag: str) -> Iterator[str]:
    url = new_database(engine_name, tag)
    try:
        yield url
    finally:
        drop_database(url)


# -- the machine -------------------------------------------------------------------------


def _first_line(path: str, key: str) -> str:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(key):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def postgres_version() -> str:
    try:
        with _admin() as admin:
            return str(admin.execute("SHOW server_version").fetchone()[0])
    except Exception as exc:
        return f"unreachable ({exc.__class__.__name__})"


def chromium_version() -> str:
    try:
        out = subprocess.run(
            [CHROMIUM, "--version"], capture_output=True, text=True, timeout=20, check=False
        )
        return out.stdout.strip() or "unknown"
    except OSError:
        return "not installed"


def machine() -> dict[str, Any]:
    import pandas
    import plotly
    import sqlalchemy
    import streamlit

    mem_kb = int(_first_line("/proc/meminfo", "MemTotal").split()[0] or 0)
    return {
        "cpu": _first_line("/proc/cpuinfo", "model name"),
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "postgresql": postgres_version(),
        "streamlit": streamlit.__version__,
        "plotly": plotly.__version__,
        "pandas": pandas.__version__,
        "sqlalchemy": sqlalchemy.__version__,
        "chromium": chromium_version(),
        "load_average": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "date": dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
    }


# -- memory of a process tree -------------------------------------------------------------


def _status_kb(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def process_tree(pid: int) -> list[int]:
    """pid and all its descendants, from /proc (psutil is not a dependency)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(children.get(current, []))
    return tree


def tree_rss_kb(pid: int) -> int:
    return sum(_status_kb(p, "VmRSS") for p in process_tree(pid))


def tree_hwm_kb(pid: int) -> int:
    """Sum of the peak resident sizes (VmHWM) of the tree's processes."""
    return sum(_status_kb(p, "VmHWM") for p in process_tree(pid))


class MemorySampler:
    """Samples the resident size of a process tree in a thread; keeps the peak."""

    def __init__(self, pid: int, every: float = 0.1) -> None:
        import threading

        self.pid = pid
        self.every = every
        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_kb = max(self.peak_kb, tree_rss_kb(self.pid))
            self._stop.wait(self.every)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def write_json(path: Path, payload: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=1, default=str))
