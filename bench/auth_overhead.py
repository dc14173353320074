"""What authentication costs a DRF endpoint: one run, side by side.

    .venv/bin/python bench/auth_overhead.py        (or: make bench-client)

Starts a real auth server (SQLite, one uvicorn worker) and the SaaS Admin serving one small
DRF endpoint (uvicorn, one worker, WSGI thread pool), both on free loopback ports, then
measures requests/s and p50/p99 latency with concurrent keep-alive HTTP clients for: no
authentication; `local` mode; `hybrid` mode (local + the revocation feed, polled every
second as on the embedded default); `remote` mode with a warm cache; `remote` with a cold cache
(cache_ttl = 0: every request asks GET /api/auth/me). Each client has its own token (its own
login), so single-flight never merges the cold calls. Rounds are interleaved so that drift
hits every case alike. Prints each case as a ratio to no authentication.
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.workers import postgres_server, worker_rss_mib  # noqa: E402
from tests.support.auth_process import AuthServerProcess  # noqa: E402
from tests.support.ports import free_port  # noqa: E402
from tests.support.saas_process import SaasAdminProcess, saas_database  # noqa: E402

# simplejwt: its JWTAuthentication on the same tokens and key (the `bench` extra).
CASES = ["none", "local", "hybrid", "simplejwt", "remote-warm", "remote-cold"]
ADMIN_PASSWORD = "bench-admin-passphrase-1234"


@dataclass
class Sample:
    count: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)


def saas_env(workdir: Path, auth: AuthServerProcess) -> dict[str, str]:
    """The SaaS Admin's environment: hybrid's feed polled (no Redis), as on the embedded
    default, over its own SQLite database."""
    env = {
        **os.environ,
        "PYTHONPATH": f"{ROOT / 'saas_admin'}{os.pathsep}{ROOT}",
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
        "ENVIRONMENT": "test",
        "DJANGO_DEBUG": "false",
        "DATABASE_URL": f"sqlite:///{workdir / 'saas_admin.sqlite3'}",
        "AUTH_SERVICE_URL": auth.base_url,
        "AUTH_JWT_ISSUER": auth.base_url,
        # Hybrid: the feed's credential; polled (no Redis), as on the embedded default.
        "AUTH_SERVICE_TOKEN": auth.service_token,
        "AUTH_REVOCATION_REDIS_URL": "none",
    }
    # The embedded default: a process-local cache (REDIS_URL would make it Redis).
    env.pop("REDIS_URL", None)
    return env


def start_saas_admin(workdir: Path, auth: AuthServerProcess) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = saas_env(workdir, auth)
    subprocess.run(
        [sys.executable, str(ROOT / "saas_admin" / "manage.py"), "migrate", "-v", "0"],
        env=env, check=True, timeout=120,
    )  # fmt: skip
    log = (workdir / "saas_admin.log").open("ab")
    process = subprocess.Popen(
        [
            sys.executable, "-m", "uvicorn", "auth_overhead_app:application",
            "--app-dir", str(ROOT / "bench"), "--interface", "wsgi",
            "--host", "127.0.0.1", "--port", str(port),
            "--log-level", "warning", "--no-access-log",
        ],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError((workdir / "saas_admin.log").read_text())
        try:
            if httpx.get(f"{base}/none", timeout=1).status_code == 200:
                return process, base
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    process.terminate()
    raise RuntimeError("the SaaS Admin did not start")


def run_case(port: int, path: str, tokens: list[str], seconds: float) -> Sample:
    """len(tokens) clients, each on its own keep-alive connection, for `seconds`."""
    sample = Sample()
    lock = threading.Lock()
    stop = time.perf_counter() + seconds
    errors: list[str] = []

    def client(token: str) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        headers = {"Authorization": f"Bearer {token}"} if path != "/none" else {}
        mine: list[float] = []
        while (started := time.perf_counter()) < stop:
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            response.read()
            mine.append(time.perf_counter() - started)
            if response.status != 200:
                errors.append(f"{path}: HTTP {response.status}")
                break
        connection.close()
        with lock:
            sample.latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(t,)) for t in tokens]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sample.seconds = time.perf_counter() - began
    sample.count = len(sample.latencies)
    if errors:
        raise RuntimeError(errors[0])
    return sample


def login(auth: AuthServerProcess) -> dict[str, str]:
    response = httpx.post(
        f"{auth.base_url}/api/auth/login",
        json={"email": "admin@rozitech.com", "password": ADMIN_PASSWORD},
        timeout=30,
    )
    response.raise_for_status()
    data: dict[str, str] = response.json()["data"]
    return data


def token_costs(workdir: Path, auth: AuthServerProcess, refresh_token: str) -> str:
    """bench/token_costs.py's figures, run in the SaaS Admin's environment."""
    env = {**saas_env(workdir, auth), "BENCH_REFRESH_TOKEN": refresh_token}
    return subprocess.run(
        [sys.executable, str(ROOT / "bench" / "token_costs.py")],
        env=env, check=True, timeout=600, capture_output=True, text=True,
    ).stdout  # fmt: skip


def scaling(workdir: Path, auth: AuthServerProcess, tokens: list[str], seconds: float) -> None:
    """An authenticated endpoint (GET /api/auth/verify, hybrid) of the SaaS Admin as in
    production (gunicorn, gthread) with 1 and 2 workers on PostgreSQL: req/s and memory."""
    if postgres_server() is None:
        print("scaling: skipped, no PostgreSQL server (set AUTH_DATABASE_URL)")
        return
    rows = {}
    for workers in (1, 2):
        with saas_database(workdir / f"scaling-{workers}") as url:
            settings = {**saas_env(workdir, auth), "DATABASE_URL": url}
            replica = SaasAdminProcess(url, workers, workdir, "gunicorn", **settings)
            replica.migrate().start()
            try:
                run_case(replica.port, "/api/auth/verify", tokens, 0.5)  # warm-up
                sample = run_case(replica.port, "/api/auth/verify", tokens, seconds)
                assert replica.pid is not None
                rss = worker_rss_mib(replica.pid)
            finally:
                replica.stop()
        rows[workers] = (sample.count / sample.seconds, statistics.mean(rss), len(rss))
    print(f"scaling: SaaS Admin on PostgreSQL, gunicorn gthread workers, {len(tokens)} clients")
    print(f"  {'workers':<10}{'req/s':>10}{'RSS MiB/worker':>16}")
    for workers, (rps, rss_mib, count) in rows.items():
        print(f"  {workers:<10}{rps:>10.0f}{rss_mib:>16.1f}  ({count} measured)")
    print(f"  {'2 vs 1':<10}{rows[2][0] / rows[1][0]:>10.2f}")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=4.0, help="per case and round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="bench-auth-overhead-"))
    auth = AuthServerProcess(
        f"sqlite:///{workdir / 'auth.sqlite3'}", workdir / "auth", admin_password=ADMIN_PASSWORD
    )
    saas: subprocess.Popen[bytes] | None = None
    try:
        auth.migrate().start()
        auth.create_admin()
        sessions = [login(auth) for _ in range(args.clients + 1)]
        tokens = [session["accessToken"] for session in sessions[1:]]
        saas, base = start_saas_admin(workdir, auth)
        port = int(base.rsplit(":", 1)[1])
        print(
            f"{args.clients} concurrent clients, {args.rounds} rounds x {args.seconds:g} s per "
            f"case; auth server and SaaS Admin: one uvicorn worker each; {os.cpu_count()} CPUs"
        )
        for case in CASES:  # warm-up: connections, JWKS, caches, the local user
            run_case(port, f"/{case}", tokens, 0.5)
        results = {case: Sample() for case in CASES}
        for round_number in range(args.rounds):
            # Rotated each round: no case always runs right after the heavy cold one.
            shift = round_number % len(CASES)
            for case in CASES[shift:] + CASES[:shift]:
                sample = run_case(port, f"/{case}", tokens, args.seconds)
                total = results[case]
                total.count += sample.count
                total.seconds += sample.seconds
                total.latencies.extend(sample.latencies)
        base_rps = results["none"].count / results["none"].seconds
        base_p50 = statistics.median(results["none"].latencies)
        base_p99 = percentile(results["none"].latencies, 0.99)
        print(
            f"{'case':<14}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}   ratio to none: req/s  p50  p99"
        )
        for case in CASES:
            result = results[case]
            rps = result.count / result.seconds
            p50 = statistics.median(result.latencies)
            p99 = percentile(result.latencies, 0.99)
            print(
                f"{case:<14}{rps:>9.0f}{p50 * 1000:>9.2f}{p99 * 1000:>9.2f}"
                f"   {rps / base_rps:>24.2f} {p50 / base_p50:>4.2f} {p99 / base_p99:>4.2f}"
            )
        # In process: one token's verification, against simplejwt's and a bare decode.
        print(token_costs(workdir, auth, sessions[0]["refreshToken"]), end="")
        scaling(workdir, auth, tokens, args.seconds)
    finally:
        if saas is not None:
            saas.terminate()
            saas.wait(timeout=10)
        auth.stop()


if __name__ == "__main__":
    main()
