"""The small password-reset page that PASSWORD_RESET_URL points at by default."""

from __future__ import annotations

import base64
import hashlib
from importlib import resources

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

router = APIRouter(tags=["pages"])

# Reads the token from the URL fragment (never sent to a server, so it stays out of access
# logs and Referer headers) and posts it with the new password as JSON.
_SCRIPT = """
const form = document.getElementById("reset");
const status = document.getElementById("status");
const token = new URLSearchParams(location.hash.slice(1)).get("token")
  || new URLSearchParams(location.search).get("token");
history.replaceState(null, "", location.pathname);
if (!token) { status.textContent = "This link has no reset token."; form.hidden = true; }
form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const password = document.getElementById("password").value;
  if (password !== document.getElementById("confirm").value) {
    status.textContent = "The two passwords differ."; return;
  }
  const response = await fetch("/api/auth/reset-password", {
    method: "POST", headers: {"Content-Type": "application/json"},
    body: JSON.stringify({token, password}),
  });
  const body = await response.json();
  if (body.success) { form.hidden = true; status.textContent = body.data.message; return; }
  const details = Object.values(body.errors || {}).flat().join(" ");
  status.textContent = (body.message + " " + details).trim();
});
""".strip()

_PAGE = (
    resources.files("auth_server")
    .joinpath("templates/reset_password.html")
    .read_text(encoding="utf-8")
    .replace("SCRIPT", _SCRIPT)
)
_SCRIPT_HASH = base64.b64encode(hashlib.sha256(("\n" + _SCRIPT + "\n").encode()).digest()).decode()

_HEADERS = {
    # Only this page's own script and style run; it may talk to this server only.
    "Content-Security-Policy": (
        f"default-src 'none'; script-src 'sha256-{_SCRIPT_HASH}'; style-src 'unsafe-inline'; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    # The token must not leak through caches, referrers or framing.
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
}


@router.get("/reset-password", response_class=HTMLResponse, include_in_schema=False)
def reset_password_page() -> HTMLResponse:
    return HTMLResponse(_PAGE, headers=_HEADERS)
