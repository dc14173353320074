"""How long a logout takes to reach a SaaS Admin replica in hybrid mode: p50/p99.

    .venv/bin/python bench/revocation_latency.py      (or: make bench-revocation)

Starts an auth server and a SaaS Admin replica (uvicorn, one worker, hybrid mode) on free
loopback ports, then, `--logouts` times: logs in, uses the token once on the replica (a
cached verification), logs out at the auth server, and asks the replica again every few
milliseconds on a keep-alive connection until it refuses the token. The latency is from the
logout's answer to the first refusal. Each logout waits a random part of the poll interval
first, so that logouts fall at random points of the replica's poll cycle. Once with the
Redis channel (REDIS_URL, or a redis-server of its own when `redis-server` is on PATH) and
once polling the feed every AUTH_REVOCATION_POLL_INTERVAL (default 1 s).
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.auth_process import AuthServerProcess  # noqa: E402
from tests.support.ports import free_port  # noqa: E402
from tests.support.saas_process import SaasAdminProcess  # noqa: E402

ADMIN_PASSWORD = "bench-admin-passphrase-1234"
TIMEOUT = 10.0


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


def measure(transport: str, redis_url: str, logouts: int, poll_interval: float) -> list[float]:
    workdir = Path(tempfile.mkdtemp(prefix=f"bench-revocation-{transport}-"))
    auth = AuthServerProcess(
        f"sqlite:///{workdir / 'auth.sqlite3'}",
        workdir,
        admin_password=ADMIN_PASSWORD,
        redis_url=redis_url if transport == "redis" else "",
        rate_limit_per_ip="100000/minute",
    )
    saas: SaasAdminProcess | None = None
    try:
        auth.migrate().start()
        auth.create_admin()
        saas = SaasAdminProcess(
            f"sqlite:///{workdir / 'saas.sqlite3'}",
            log_dir=workdir,
            AUTH_SERVICE_URL=auth.base_url,
            AUTH_JWT_ISSUER=auth.base_url,
            AUTH_VERIFY_MODE="hybrid",
            AUTH_SERVICE_TOKEN=auth.service_token,
            AUTH_REVOCATION_CHANNEL=auth.revocation_channel,
            AUTH_REVOCATION_REDIS_URL=redis_url if transport == "redis" else "none",
            AUTH_REVOCATION_POLL_INTERVAL=poll_interval,
        ).migrate()
        saas.start()
        latencies: list[float] = []
        connection = http.client.HTTPConnection("127.0.0.1", saas.port, timeout=TIMEOUT)

        def status(token: str) -> int:
            connection.request(
                "GET", "/api/auth/verify", headers={"Authorization": f"Bearer {token}"}
            )
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
    finally:
        if saas is not None:
            saas.stop()
        auth.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logouts", type=int, default=50)
    parser.add_argument("--poll-interval", type=float, default=1.0)
    args = parser.parse_args()
    redis_process, redis_url = own_redis()
    try:
        print(
            f"{args.logouts} logouts per transport; one auth server, one SaaS Admin replica "
            f"(uvicorn, one worker, hybrid); {os.cpu_count()} CPUs"
        )
        print(f"{'transport':<22}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}")
        for transport in ("redis", "polling"):
            if transport == "redis" and not redis_url:
                print(f"{transport:<22} skipped: no REDIS_URL and no redis-server on PATH")
                continue
            values = measure(transport, redis_url, args.logouts, args.poll_interval)
            label = transport if transport == "redis" else f"polling ({args.poll_interval:g} s)"
            print(
                f"{label:<22}{statistics.median(values) * 1000:>9.1f}"
                f"{percentile(values, 0.99) * 1000:>9.1f}{max(values) * 1000:>9.1f}"
            )
    finally:
        if redis_process is not None:
            redis_process.kill()
            redis_process.wait(timeout=10)


if __name__ == "__main__":
    main()
