"""The API documentation page: Swagger UI from this origin only, under a strict policy."""

from __future__ import annotations

from typing import Any

from drf_spectacular.views import SpectacularSwaggerSplitView
from rest_framework.request import Request
from rest_framework.response import Response

# Scripts, styles, images and the schema from this origin only (data: images are Swagger
# UI's own icons): a script from elsewhere could read the bearer token given to "Authorize".
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


class ApiDocsView(SpectacularSwaggerSplitView):
    """Swagger UI with its start-up script as a separate file (no inline script)."""

    template_name = "api_docs.html"

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        return response
