"""How long a logout takes to reach a SaaS Admin replica in hybrid mode: p50/p99; and what
100 idle waiting feed readers cost the auth server.

    .venv/bin/python bench/revocation_latency.py      (or: make bench-revocation)

Latency: starts an auth server and a SaaS Admin replica (uvicorn, one worker, hybrid mode) on
free loopback ports, then, `--logouts` times: logs in, uses the token once on the replica (a
cached verification), logs out at the auth server, and asks the replica again every few
milliseconds on a keep-alive connection until it refuses the token. The latency is from the
logout's answer to the first refusal. Each logout waits a random part of the poll interval
first, so that logouts fall at random points of the replica's poll cycle. Per transport:
the Redis channel (REDIS_URL, or a redis-server of its own when `redis-server` is on PATH),
the waiting feed (long polls, no Redis), and polling the feed every
AUTH_REVOCATION_POLL_INTERVAL (default 1 s). On SQLite with one auth server; then, when
AUTH_DATABASE_URL names a PostgreSQL server, on a fresh PostgreSQL database with two auth
servers: the logout at one, the SaaS Admin fed by the other (without Redis, the other learns
of the commit by LISTEN/NOTIFY).

Idle cost: one auth server (SQLite, no Redis); its resident memory and the CPU time it uses
over `--idle-seconds` with no client, with 100 clients each holding a waiting read
(wait=30), and with 100 clients each polling once a second (what the waiting feed replaces).
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.auth_process import AuthServerProcess  # noqa: E402
from tests.support.databases import postgres_server_url, temporary_database  # noqa: E402
from tests.support.ports import free_port  # noqa: E402
from tests.support.saas_process import SaasAdminProcess  # noqa: E402

ADMIN_PASSWORD = "bench-admin-passphrase-1234"
TIMEOUT = 10.0
TRANSPORTS = ("redis", "waiting", "polling")
IDLE_CLIENTS = 100


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def own_redis() -> tuple[subprocess.Popen[bytes] | None, str]:
    """REDIS_URL, or a throw-away redis-server; ("", None) when neither exists."""
    url = os.environ.get("REDIS_URL", "")
    if url:
        return None, url
    if shutil.which("redis-server") is None:
        return None, ""
    port = free_port()
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    time.sleep(0.5)
    return process, f"redis://127.0.0.1:{port}/0"


def measure(
    transport: str, postgres: bool, redis_url: str, logouts: int, poll_interval: float
) -> list[float]:
    workdir = Path(tempfile.mkdtemp(prefix=f"bench-revocation-{transport}-"))
    database: AbstractContextManager[str] = (
        temporary_database(workdir) if postgres else nullcontext(f"sqlite:///{workdir / 'a.db'}")
    )
    redis = redis_url if transport == "redis" else ""
    with database as database_url:
        servers = [
            AuthServerProcess(
                database_url, workdir, admin_password=ADMIN_PASSWORD, redis_url=redis,
                rate_limit_per_ip="100000/minute", service_token="b" * 43,
                revocation_channel=f"bench-{os.getpid()}",
            )
            for _ in range(2 if postgres else 1)
        ]  # fmt: skip
        for index, server in enumerate(servers):
            server.log_path = workdir / f"auth-{index}.log"
        # The logout goes to the first, the SaaS Admin reads the feed of the last.
        logout_at, feed_from = servers[0], servers[-1]
        saas: SaasAdminProcess | None = None
        try:
            logout_at.migrate()
            for server in servers:
                server.start()
            logout_at.create_admin()
            saas = SaasAdminProcess(
                f"sqlite:///{workdir / 'saas.sqlite3'}",
                log_dir=workdir,
                AUTH_SERVICE_URL=feed_from.base_url,
                # One deployment: one issuer and one signing key (the shared data dir's).
                AUTH_JWT_ISSUER=logout_at.base_url,
                AUTH_VERIFY_MODE="hybrid",
                AUTH_SERVICE_TOKEN=feed_from.service_token,
                AUTH_REVOCATION_CHANNEL=feed_from.revocation_channel,
                AUTH_REVOCATION_REDIS_URL=redis or "none",
                AUTH_REVOCATION_POLL_INTERVAL=poll_interval,
                AUTH_REVOCATION_WAIT=15 if transport == "waiting" else 0,
            ).migrate()
            saas.start()
            return logout_latencies(logout_at, saas, logouts, poll_interval)
        finally:
            if saas is not None:
                saas.stop()
            for server in servers:
                server.stop()


def logout_latencies(
    auth: AuthServerProcess, saas: SaasAdminProcess, logouts: int, poll_interval: float
) -> list[float]:
    latencies: list[float] = []
    connection = http.client.HTTPConnection("127.0.0.1", saas.port, timeout=TIMEOUT)

    def status(token: str) -> int:
        connection.request("GET", "/api/auth/verify", headers={"Authorization": f"Bearer {token}"})
        response = connection.getresponse()
        response.read()
        return response.status

    with httpx.Client(base_url=auth.base_url, timeout=30) as client:
        for _ in range(logouts):
            body = {"email": "admin@rozitech.com", "password": ADMIN_PASSWORD}
            session = client.post("/api/auth/login", json=body).json()["data"]
            token = session["accessToken"]
            if status(token) != 200:
                raise RuntimeError("a fresh token was refused")
            # A random phase: without it each logout would follow the replica's last
            # poll by the same few milliseconds (the loop locks onto the poll period).
            time.sleep(random.uniform(0, poll_interval))
            refresh = {"refreshToken": session["refreshToken"]}
            client.post("/api/auth/logout", json=refresh).raise_for_status()
            since = time.perf_counter()
            while status(token) != 401:
                if time.perf_counter() - since > TIMEOUT:
                    raise RuntimeError(f"not refused within {TIMEOUT}s")
                time.sleep(0.002)
            latencies.append(time.perf_counter() - since)
    connection.close()
    return latencies


# -- the idle cost of waiting readers ------------------------------------------------------


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def cpu_seconds(pid: int) -> float:
    # utime and stime, fields 14 and 15 of /proc/<pid>/stat (after the command in parens).
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def clients(server: AuthServerProcess, wait: float, seconds: float) -> tuple[int, float]:
    """IDLE_CLIENTS readers for `seconds`: each holds a waiting read (wait > 0) or polls once
    a second (wait == 0). Returns the server's RSS (KiB) once they are all in, and its CPU
    seconds over `seconds` from then."""
    pid = server.pid
    assert pid is not None
    limits = httpx.Limits(max_connections=IDLE_CLIENTS * 2, max_keepalive_connections=IDLE_CLIENTS)
    stop = asyncio.Event()
    async with httpx.AsyncClient(
        base_url=server.base_url, headers=server.service_headers(), timeout=60, limits=limits
    ) as http:

        async def reader() -> None:
            params: dict[str, str | float] = {"since": "0"}
            if wait:
                params["wait"] = wait
            while not stop.is_set():
                (await http.get("/api/auth/revocations", params=params)).raise_for_status()
                if not wait:
                    await asyncio.sleep(1.0)

        tasks = [asyncio.create_task(reader()) for _ in range(IDLE_CLIENTS)]
        await asyncio.sleep(2.0)  # every reader connected and in its first request
        rss, cpu = rss_kib(pid), cpu_seconds(pid)
        await asyncio.sleep(seconds)
        used = cpu_seconds(pid) - cpu
        stop.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return rss, used


def idle_cost(seconds: float) -> None:
    if not Path("/proc/self/stat").exists():
        print("idle cost: skipped (needs Linux /proc)")
        return
    workdir = Path(tempfile.mkdtemp(prefix="bench-revocation-idle-"))
    server = AuthServerProcess(f"sqlite:///{workdir / 'auth.sqlite3'}", workdir, redis_url="")
    server.migrate().start()
    try:
        pid = server.pid
        assert pid is not None
        rss, cpu = rss_kib(pid), cpu_seconds(pid)
        time.sleep(seconds)
        idle = cpu_seconds(pid) - cpu
        print(
            f"\nAuth server (SQLite, one worker), {IDLE_CLIENTS} feed readers, CPU time over "
            f"{seconds:g} s:"
        )
        print(f"{'readers':<34}{'RSS MiB':>9}{'delta MiB':>11}{'CPU ms/s':>10}")
        print(f"{'none':<34}{rss / 1024:>9.1f}{0:>11.1f}{idle / seconds * 1000:>10.1f}")
        for label, wait in (
            (f"{IDLE_CLIENTS} waiting (wait=30)", 30.0),
            (f"{IDLE_CLIENTS} polling once a second", 0.0),
        ):
            held, used = asyncio.run(clients(server, wait, seconds))
            print(
                f"{label:<34}{held / 1024:>9.1f}{(held - rss) / 1024:>11.1f}"
                f"{used / seconds * 1000:>10.1f}"
            )
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logouts", type=int, default=50)
    parser.add_argument("--poll-interval", type=float, default=1.0)
    parser.add_argument("--idle-seconds", type=float, default=10.0)
    args = parser.parse_args()
    redis_process, redis_url = own_redis()
    try:
        print(
            f"{args.logouts} logouts per transport; SaaS Admin: one replica (uvicorn, one "
            f"worker, hybrid); {os.cpu_count()} CPUs"
        )
        print(f"{'database, transport':<34}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}")
        for postgres in (False, True):
            where = "PostgreSQL, 2 auth" if postgres else "SQLite, 1 auth"
            if postgres and postgres_server_url() is None:
                print(f"{where:<34} skipped: AUTH_DATABASE_URL names no PostgreSQL server")
                continue
            for transport in TRANSPORTS:
                label = f"{where}, {transport}"
                if transport == "polling":
                    label += f" ({args.poll_interval:g} s)"
                if transport == "redis" and not redis_url:
                    print(f"{label:<34} skipped: no REDIS_URL and no redis-server on PATH")
                    continue
                values = measure(transport, postgres, redis_url, args.logouts, args.poll_interval)
                print(
                    f"{label:<34}{statistics.median(values) * 1000:>9.1f}"
                    f"{percentile(values, 0.99) * 1000:>9.1f}{max(values) * 1000:>9.1f}"
                )
        idle_cost(args.idle_seconds)
    finally:
        if redis_process is not None:
            redis_process.kill()
            redis_process.wait(timeout=10)


if __name__ == "__main__":
    main()
