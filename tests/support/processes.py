"""Ending the server processes the tests start."""

from __future__ import annotations

import subprocess


def end(process: subprocess.Popen[bytes] | None, timeout: float = 10) -> None:
    """Terminates `process` if it still runs, killing it after `timeout` seconds."""
    if process is not None and process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
