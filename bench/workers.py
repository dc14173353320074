"""For the scaling runs: the PostgreSQL server they use, and a server's worker processes'
resident memory and CPU time (Linux /proc)."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from auth_server.db import normalize_database_url

# The development machine's server, when AUTH_DATABASE_URL names none.
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


def postgres_server() -> str | None:
    """AUTH_DATABASE_URL's PostgreSQL server (or the default), None when unreachable; set in
    the environment for tests.support.databases, which makes a fresh database per run."""
    url = os.environ.get("AUTH_DATABASE_URL", "")
    url = url if url.startswith("postgres") else DEFAULT_POSTGRES
    engine = create_engine(normalize_database_url(url))
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except OperationalError:
        return None
    finally:
        engine.dispose()
    os.environ["AUTH_DATABASE_URL"] = url
    return url


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # The command may hold spaces and parentheses: the fields follow the last ")".
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def worker_rss_mib(pid: int) -> list[float]:
    """Resident memory of each process that serves: the workers a master started (not
    multiprocessing's resource tracker), or the process itself when it serves alone."""
    workers = [
        child
        for child in _children(pid)
        if b"resource_tracker" not in Path(f"/proc/{child}/cmdline").read_bytes()
    ]
    return [_rss_mib(worker) for worker in workers or [pid]]


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a server has used so far: the process and its workers. The
    load generator shares the machine's cores, so requests per CPU-second of the server is
    what a core of its own would serve."""
    ticks = 0
    for process in [pid, *_children(pid)]:
        try:
            fields = Path(f"/proc/{process}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # a worker that ended meanwhile
        ticks += int(fields[11]) + int(fields[12])  # utime, stime (proc(5) fields 14, 15)
    return ticks / os.sysconf("SC_CLK_TCK")


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0
