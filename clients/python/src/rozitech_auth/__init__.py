"""The client side of the Rozitech auth server, for any Python service.

The framework-free core: `rozitech_auth.client.AuthServerClient` (`get_auth_client()`), the
verification modes (`rozitech_auth.verification`), the errors (`rozitech_auth.errors`), the
`amr`/`acr` names tokens carry (`rozitech_auth.amr`).
Adapters: `rozitech_auth.django` (INSTALLED_APPS; `...django.authentication.
RemoteJWTAuthentication`, `OptionalRemoteJWTAuthentication`, `CachedRemoteJWTAuthentication`)
and `rozitech_auth.fastapi` (`current_user`, `require_license`, `require_role`).
"""

__version__ = "0.1.0"
