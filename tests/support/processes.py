"""The server processes the tests start: how long they get to come up, and ending them."""

from __future__ import annotations

import subprocess

# Seconds a server process (auth server, SaaS Admin, the README's product) gets to answer
# its first request. A hang guard, not a performance assertion: on a loaded machine a Python
# server's start (imports, workers, the first database connection) can take over 30 s.
START_DEADLINE = 90.0


def end(process: subprocess.Popen[bytes] | None, timeout: float = 10) -> None:
    """Terminates `process` if it still runs, killing it after `timeout` seconds."""
    if process is not None and process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
