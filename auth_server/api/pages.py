"""The small hosted pages: the password reset page that PASSWORD_RESET_URL points at by
default, and the invitation page that INVITATION_ACCEPT_URL points at by default.

Each page is one template and one inline script, allowed by its hash in a strict
Content-Security-Policy. The token is read from the URL fragment (never sent to a server,
so it stays out of access logs and Referer headers) and posted as JSON.
"""

from __future__ import annotations

import base64
import hashlib
from importlib import resources

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

router = APIRouter(tags=["pages"])

_READ_TOKEN = """
const status = document.getElementById("status");
const token = new URLSearchParams(location.hash.slice(1)).get("token")
  || new URLSearchParams(location.search).get("token");
history.replaceState(null, "", location.pathname);
const problem = (body) => (body.message + " "
  + Object.values(body.errors || {}).flat().join(" ")).trim();
async function post(path, body, accessToken) {
  const headers = {"Content-Type": "application/json"};
  if (accessToken) headers.Authorization = "Bearer " + accessToken;
  const response = await fetch(path, {method: "POST", headers, body: JSON.stringify(body)});
  return response.json();
}
""".strip()

_RESET_SCRIPT = """
const form = document.getElementById("reset");
if (!token) { status.textContent = "This link has no reset token."; form.hidden = true; }
form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const password = document.getElementById("password").value;
  if (password !== document.getElementById("confirm").value) {
    status.textContent = "The two passwords differ."; return;
  }
  const body = await post("/api/auth/reset-password", {token, password});
  if (body.success) { form.hidden = true; status.textContent = body.data.message; return; }
  status.textContent = problem(body);
});
""".strip()

# Sign in and accept (the page's own session is ended right after), or sign up with the
# invitation and verify the address with the mailed code.
_INVITATION_SCRIPT = """
const forms = ["signin", "signup", "verify"].map((id) => document.getElementById(id));
const [signin, signup, verify] = forms;
const show = (shown) => { for (const form of forms) form.hidden = form !== shown; };
const value = (id) => document.getElementById(id).value;
if (!token) { status.textContent = "This link has no invitation token."; show(null); }
signin.addEventListener("submit", async (event) => {
  event.preventDefault();
  const credentials = {email: value("email"), password: value("password")};
  const session = await post("/api/auth/login", credentials);
  if (!session.success) { status.textContent = problem(session); return; }
  const joined = await post("/api/auth/invitations/accept", {token}, session.data.accessToken);
  await post("/api/auth/logout", {refreshToken: session.data.refreshToken});
  if (!joined.success) { status.textContent = problem(joined); return; }
  show(null);
  status.textContent = `You joined ${joined.data.name} as ${joined.data.role}.`;
});
signup.addEventListener("submit", async (event) => {
  event.preventDefault();
  const created = await post("/api/auth/signup", {
    email: value("new-email"), password: value("new-password"),
    firstName: value("first-name"), lastName: value("last-name"), invitationToken: token,
  });
  if (!created.success) { status.textContent = problem(created); return; }
  verify.dataset.email = created.data.email;
  show(verify);
  status.textContent = `We sent a verification code to ${created.data.email}.`;
});
verify.addEventListener("submit", async (event) => {
  event.preventDefault();
  const code = {email: verify.dataset.email, code: value("code")};
  const body = await post("/api/auth/verify-email", code);
  if (!body.success) { status.textContent = problem(body); return; }
  show(null);
  status.textContent = "Your account is ready and has joined the organization. Sign in now.";
});
""".strip()


def _page(template: str, script: str) -> tuple[str, dict[str, str]]:
    """The page's HTML with its script inlined, and its headers (the CSP allows exactly
    that script)."""
    script = f"{_READ_TOKEN}\n{script}"
    html = (
        resources.files("auth_server")
        .joinpath(f"templates/{template}")
        .read_text(encoding="utf-8")
        .replace("SCRIPT", script)
    )
    digest = base64.b64encode(hashlib.sha256(f"\n{script}\n".encode()).digest()).decode()
    headers = {
        # Only this page's own script and style run; it may talk to this server only.
        "Content-Security-Policy": (
            f"default-src 'none'; script-src 'sha256-{digest}'; style-src 'unsafe-inline'; "
            "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        ),
        # The token must not leak through caches, referrers or framing.
        "Cache-Control": "no-store",
        "Referrer-Policy": "no-referrer",
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
    }
    return html, headers


_RESET = _page("reset_password.html", _RESET_SCRIPT)
_INVITATION = _page("accept_invitation.html", _INVITATION_SCRIPT)


@router.get("/reset-password", response_class=HTMLResponse, include_in_schema=False)
def reset_password_page() -> HTMLResponse:
    return HTMLResponse(_RESET[0], headers=_RESET[1])


@router.get("/accept-invitation", response_class=HTMLResponse, include_in_schema=False)
def accept_invitation_page() -> HTMLResponse:
    return HTMLResponse(_INVITATION[0], headers=_INVITATION[1])
