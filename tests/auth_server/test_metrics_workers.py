"""`serve --workers 2`: both worker processes count, and a scrape of either reports the sum
(prometheus_client's multiprocess mode, in the folder `serve` sets up)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support.auth_process import REPO_ROOT, AuthServerProcess
from tests.support.databases import temporary_database
from tests.support.metrics import counted_by_process, scrape, value
from tests.support.processes import end

PATH = "/health/live"


def counted(folder: Path) -> dict[str, float]:
    return counted_by_process(folder, "http_requests_total", handler=PATH)


def test_two_workers_are_scraped_as_one(tmp_path: Path) -> None:
    with temporary_database(tmp_path) as url:
        server = AuthServerProcess(url, tmp_path).migrate()
        process = subprocess.Popen(
            [sys.executable, "-m", "auth_server", "serve", "--workers", "2"],
            cwd=REPO_ROOT,
            env=server.env,
            stdout=server.log_path.open("ab"),
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                assert process.poll() is None, server.log()
                try:
                    if httpx.get(f"{server.base_url}/health", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    assert time.monotonic() < deadline, server.log()
                    time.sleep(0.1)
            folder = tmp_path / f"metrics-{server.port}"
            sent = 0
            # A new connection each time, until the kernel has handed some to each worker.
            while len(counted(folder)) < 2 and sent < 500:
                assert httpx.get(f"{server.base_url}{PATH}").status_code == 200
                sent += 1
            # Each request is counted just after its answer is sent.
            while sum(counted(folder).values()) < sent and time.monotonic() < deadline:
                time.sleep(0.05)
            assert len(counted(folder)) == 2, sent
            # Whichever worker answers the scrape, it reports every worker's requests.
            for _ in range(6):
                samples = scrape(f"{server.base_url}/metrics")
                assert value(samples, "http_requests_total", handler=PATH, method="GET",
                             status="200") == sent  # fmt: skip
        finally:
            end(process)
