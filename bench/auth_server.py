"""Benchmark of the auth server, run as users run it (one uvicorn worker, SQLite).

Prints, measured side by side in this run:
- login latency as a ratio to one argon2 verification in this process (target <= 1.2),
  and unknown-e-mail login latency as a ratio to wrong-password login latency (~1.0);
- refresh/s and /me requests/s with 16 concurrent clients, each as a ratio to /health/s, and
  refreshes per CPU-second of the server (what one core of its own serves: the load generator
  shares this machine's cores), beside Keycloak's published sizing of 120 per vCPU;
- scaling, on a fresh PostgreSQL database (AUTH_DATABASE_URL's server, or the local one):
  login/s and refresh/s with 1 and 2 uvicorn workers, and each worker's resident memory.

Usage: make bench, or .venv/bin/python -m bench.auth_server [--seconds 5] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from auth_server.config import Settings
from auth_server.passwords import Passwords
from bench.workers import cpu_seconds, postgres_server, worker_rss_mib
from tests.support.auth_process import AuthServerProcess
from tests.support.databases import temporary_database

PASSWORD = "bench-password-0123"
# Keycloak's published sizing: refreshes per second per vCPU.
KEYCLOAK_REFRESHES_PER_VCPU = 120
# Enough for the wrong vs unknown ratio to settle on a loaded machine.
SAMPLES = 60


class Argon2Reference:
    """One verification with the server's default argon2 settings, timed in this process."""

    def __init__(self) -> None:
        settings = Settings(environment="test")
        self.passwords = Passwords(
            settings.argon2_time_cost, settings.argon2_memory_kib, settings.argon2_parallelism
        )
        self.stored = self.passwords.hash(PASSWORD)

    def __call__(self) -> None:
        self.passwords.verify(self.stored, PASSWORD)


def interleaved_medians(steps: dict[str, Callable[[], object]]) -> dict[str, float]:
    """Median seconds of each step, run in turn so that drift in machine load hits all alike."""
    timings: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(SAMPLES):
        for name, step in steps.items():
            start = time.perf_counter()
            step()
            timings[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in timings.items()}


def login_step(
    connection: http.client.HTTPConnection, email: str, password: str, expect: int
) -> Callable[[], None]:
    body = json.dumps({"email": email, "password": password})
    headers = {"Content-Type": "application/json"}

    def step() -> None:
        connection.request("POST", "/api/auth/login", body=body, headers=headers)
        response = connection.getresponse()
        answer = response.read()
        assert response.status == expect, answer

    return step


@dataclass(frozen=True)
class Throughput:
    requests: int
    seconds: float
    server_cpu_seconds: float

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds

    @property
    def per_cpu_second(self) -> float:
        return self.requests / self.server_cpu_seconds


async def throughput(
    server: AuthServerProcess,
    concurrency: int,
    seconds: float,
    make_worker: Callable[[httpx.AsyncClient, int], Callable[[], Awaitable[None]]],
) -> Throughput:
    """What `concurrency` clients complete in `seconds`, and the server's CPU time for it."""
    assert server.pid is not None
    base_url = server.base_url
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30) as client:
        workers = [make_worker(client, i) for i in range(concurrency)]
        done = 0
        deadline = time.perf_counter() + seconds

        async def loop(step: Callable[[], Awaitable[None]]) -> None:
            nonlocal done
            while time.perf_counter() < deadline:
                await step()
                done += 1

        cpu_before, start = cpu_seconds(server.pid), time.perf_counter()
        await asyncio.gather(*(loop(w) for w in workers))
        elapsed, cpu = time.perf_counter() - start, cpu_seconds(server.pid) - cpu_before
        return Throughput(done, elapsed, cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="bench-auth-"))
    server = bench_server(f"sqlite:///{workdir / 'auth.sqlite3'}", workdir).start()
    try:
        run(server, args.concurrency, args.seconds)
    finally:
        server.stop()
    scaling(workdir, args.concurrency, args.seconds)


def bench_server(database_url: str, workdir: Path) -> AuthServerProcess:
    """Migrated, with its first admin; not started."""
    server = AuthServerProcess(
        database_url,
        workdir,
        environment="development",
        admin_password=PASSWORD,
        # The bench's repeated wrong passwords must not trip the lockout or the IP limit.
        login_max_failures=1_000_000,
        rate_limit_per_ip="1000000/minute",
    ).migrate()
    server.create_admin()
    return server


def sign_in(base_url: str) -> dict[str, str]:
    response = httpx.post(
        f"{base_url}/api/auth/login",
        json={"email": "admin@rozitech.com", "password": PASSWORD},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    data: dict[str, str] = response.json()["data"]
    return data


def login_worker(client: httpx.AsyncClient, _i: int) -> Callable[[], Awaitable[None]]:
    async def step() -> None:
        body = {"email": "admin@rozitech.com", "password": PASSWORD}
        response = await client.post("/api/auth/login", json=body)
        assert response.status_code == 200, response.text

    return step


def refresh_workers(
    sessions: list[dict[str, str]],
) -> Callable[[httpx.AsyncClient, int], Callable[[], Awaitable[None]]]:
    """Client i rotates the refresh token of sessions[i], chaining each answer's token."""
    refresh_tokens = [s["refreshToken"] for s in sessions]

    def make(client: httpx.AsyncClient, i: int) -> Callable[[], Awaitable[None]]:
        async def step() -> None:
            response = await client.post(
                "/api/auth/refresh", json={"refreshToken": refresh_tokens[i]}
            )
            assert response.status_code == 200, response.text
            refresh_tokens[i] = response.json()["data"]["refreshToken"]

        return step

    return make


def scaling(workdir: Path, concurrency: int, seconds: float) -> None:
    """login/s and refresh/s with 1 and 2 workers on PostgreSQL, side by side."""
    if postgres_server() is None:
        print("scaling: skipped, no PostgreSQL server (set AUTH_DATABASE_URL)")
        return
    rows = {}
    for workers in (1, 2):
        with temporary_database(workdir / f"pg-{workers}") as url:
            server = bench_server(url, workdir / f"pg-{workers}").start(workers=workers)
            try:
                sessions = [sign_in(server.base_url) for _ in range(concurrency)]
                logins = asyncio.run(throughput(server, concurrency, seconds, login_worker))
                refreshes = asyncio.run(
                    throughput(server, concurrency, seconds, refresh_workers(sessions))
                )
                assert server.pid is not None
                rss = worker_rss_mib(server.pid)
            finally:
                server.stop()
        rows[workers] = (logins, refreshes, statistics.mean(rss), len(rss))
    print(f"scaling: auth server on PostgreSQL, uvicorn workers, {concurrency} concurrent clients")
    print(
        f"  {'workers':<10}{'login/s':>10}{'refresh/s':>11}{'refresh/CPU-s':>15}"
        f"{'RSS MiB/worker':>16}"
    )
    for workers, (logins, refreshes, rss_mib, count) in rows.items():
        print(
            f"  {workers:<10}{logins.per_second:>10.1f}{refreshes.per_second:>11.1f}"
            f"{refreshes.per_cpu_second:>15.1f}{rss_mib:>16.1f}  ({count} measured)"
        )
    one, two = rows[1], rows[2]
    print(
        f"  {'2 vs 1':<10}{two[0].per_second / one[0].per_second:>10.2f}"
        f"{two[1].per_second / one[1].per_second:>11.2f}"
    )


def run(server: AuthServerProcess, concurrency: int, seconds: float) -> None:
    admin = "admin@rozitech.com"
    sessions = [sign_in(server.base_url) for _ in range(concurrency)]
    # One keep-alive connection of the standard library's client, the lightest there is:
    # a sequential latency is then the server's, not the load generator's (httpx added
    # about 0.5 ms to each request here).
    address = httpx.URL(server.base_url)
    connection = http.client.HTTPConnection(address.host, address.port, timeout=30)
    try:
        medians = interleaved_medians(
            {
                "verify": Argon2Reference(),
                "login": login_step(connection, admin, PASSWORD, 200),
                "wrong": login_step(connection, admin, "not-the-password", 401),
                "unknown": login_step(connection, "nobody@example.com", PASSWORD, 401),
            }
        )
    finally:
        connection.close()
    verify, login, wrong, unknown = (medians[k] for k in ("verify", "login", "wrong", "unknown"))

    def health_worker(client: httpx.AsyncClient, _i: int) -> Callable[[], Awaitable[None]]:
        async def step() -> None:
            assert (await client.get("/health")).status_code == 200

        return step

    def me_worker(client: httpx.AsyncClient, i: int) -> Callable[[], Awaitable[None]]:
        headers = {"Authorization": f"Bearer {sessions[i]['accessToken']}"}

        async def step() -> None:
            assert (await client.get("/api/auth/me", headers=headers)).status_code == 200

        return step

    health = asyncio.run(throughput(server, concurrency, seconds, health_worker))
    me = asyncio.run(throughput(server, concurrency, seconds, me_worker))
    refresh = asyncio.run(throughput(server, concurrency, seconds, refresh_workers(sessions)))

    print(f"auth server benchmark: 1 uvicorn worker, SQLite, {concurrency} concurrent clients")
    row("argon2id verify (in process)", verify * 1000, "ms")
    row("login p50 (HTTP, sequential)", login * 1000, "ms", "ratio to verify", login / verify)
    row("wrong password p50", wrong * 1000, "ms")
    row("unknown e-mail p50", unknown * 1000, "ms", "ratio to wrong", unknown / wrong)
    row("/health", health.per_second, "req/s")
    row(
        "/api/auth/me",
        me.per_second,
        "req/s",
        "ratio to /health",
        me.per_second / health.per_second,
    )
    row(
        "/api/auth/refresh",
        refresh.per_second,
        "req/s",
        "ratio to /health",
        refresh.per_second / health.per_second,
    )
    row(
        "refresh per server CPU-second",
        refresh.per_cpu_second,
        "/s",
        "ratio to Keycloak",
        refresh.per_cpu_second / KEYCLOAK_REFRESHES_PER_VCPU,
    )


def row(label: str, value: float, unit: str, ratio_label: str = "", ratio: float = 0) -> None:
    ratio_text = f"   {ratio_label:<17}{ratio:5.2f}" if ratio_label else ""
    print(f"  {label:<30}{value:9.1f} {unit:<6}{ratio_text}")


if __name__ == "__main__":
    main()
