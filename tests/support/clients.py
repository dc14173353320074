"""HTTP clients that connect from a loopback address of their own (127.0.0.2 and up), so
that a server reading the peer address sees them as different people."""

from __future__ import annotations

import httpx


def client_from(
    base_url: str, address: str, *, headers: dict[str, str] | None = None
) -> httpx.Client:
    """A client whose connections come from `address` (a loopback address of its own)."""
    return httpx.Client(
        base_url=base_url,
        timeout=30,
        transport=httpx.HTTPTransport(local_address=address),
        headers=headers,
    )
