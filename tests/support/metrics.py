"""Reading a Prometheus text exposition, as a scraper does."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
from prometheus_client.mmap_dict import MmapedDict

Samples = dict[tuple[str, frozenset[str]], float]
_SAMPLE = re.compile(r"^(?P<name>[a-z_]+)(?:\{(?P<labels>[^}]*)\})? (?P<value>\S+)$")


def scrape(url: str, headers: dict[str, str] | None = None) -> Samples:
    """GET `url` (a /metrics page): each sample's value by name and labels."""
    response = httpx.get(url, headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    samples = {}
    for line in response.text.splitlines():
        match = _SAMPLE.match(line)
        if match:
            labels = frozenset(re.findall(r'\w+="[^"]*"', match["labels"] or ""))
            samples[(match["name"], labels)] = float(match["value"])
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sample `name` with exactly these labels (0 when absent, as a counter not yet hit)."""
    wanted = frozenset(f'{k}="{v}"' for k, v in labels.items())
    return samples.get((name, wanted), 0.0)


def counted_by_process(folder: Path, name: str, **labels: str) -> dict[str, float]:
    """A counter's value in each process's own file of a multiprocess folder (PROMETHEUS_
    MULTIPROC_DIR), by pid: who counted what, which a scrape (the sum) does not tell."""
    counts = {}
    for path in folder.glob("counter_*.db"):
        values = MmapedDict.read_all_values_from_file(str(path))  # type: ignore[no-untyped-call]
        for key, count, _timestamp, _pos in values:
            _metric, sample, sample_labels, _help = json.loads(key)
            if sample == name and labels.items() <= sample_labels.items() and count:
                counts[path.stem.rsplit("_", 1)[1]] = count
    return counts
