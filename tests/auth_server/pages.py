"""Helpers for the hosted pages' tests: a browser-like client, forms posted with their
CSRF token."""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.support.auth_process import AuthServerProcess

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def browser(server: AuthServerProcess) -> httpx.Client:
    """A client that keeps cookies and does not follow redirects (each 303 is checked)."""
    return httpx.Client(base_url=server.base_url, timeout=30, follow_redirects=False)


def csrf_of(page: httpx.Response) -> str:
    found = _CSRF.search(page.text)
    assert found, f"no CSRF field in {page.request.url}: {page.text[:300]}"
    return found.group(1)


def post_form(
    http: httpx.Client, path: str, page: str | None = None, **fields: Any
) -> httpx.Response:
    """Opens `page` (default: `path`) for its CSRF token, then posts the form with it."""
    token = csrf_of(http.get(page or path))
    return http.post(path, data={"csrf_token": token, **fields})


def sign_in(http: httpx.Client, email: str, password: str, next: str = "") -> httpx.Response:
    return post_form(http, "/signin", email=email, password=password, next=next)
