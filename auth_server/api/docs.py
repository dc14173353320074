"""The API documentation page (Swagger UI), served entirely from this server.

No CDN: Swagger UI's "Authorize" holds bearer tokens, so a third-party script on this
origin could read them, and an air-gapped deployment would get a blank page. The assets
come from the drf-spectacular-sidecar distribution installed with the project (only its
files are read; Django is never imported), the page and its start-up script from
`auth_server/templates` and `auth_server/static`. FastAPI's `get_swagger_ui_html` is not
used because it inlines the start-up script, which a 'self'-only policy would refuse.
"""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

STATIC_PATH = "/static"

router = APIRouter(tags=["docs"])

_PAGE = resources.files("auth_server").joinpath("templates/api_docs.html").read_text("utf-8")

_HEADERS = {
    # Scripts, styles, images and the schema come from this origin only; data: images are
    # Swagger UI's own inline icons. No framing, no forms posted elsewhere.
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
}


@router.get("/api-docs", response_class=HTMLResponse, include_in_schema=False)
def api_docs() -> HTMLResponse:
    return HTMLResponse(_PAGE, headers=_HEADERS)


def mount_static(app: FastAPI) -> None:
    """Our own files (favicon, start-up script), then the packaged Swagger UI distribution."""
    files = StaticFiles(
        packages=[
            ("auth_server", "static"),
            # Located by import spec, not imported: the package's __init__ imports Django.
            ("drf_spectacular_sidecar", "static/drf_spectacular_sidecar"),
        ]
    )
    app.mount(STATIC_PATH, files, name="static")
