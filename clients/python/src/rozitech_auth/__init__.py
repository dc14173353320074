"""The client side of the Rozitech auth server, for any Python service.

Public names: `rozitech_auth.client.AuthServerClient`, `rozitech_auth.client.get_auth_client`,
`rozitech_auth.django.authentication.RemoteJWTAuthentication`,
`OptionalRemoteJWTAuthentication`, `CachedRemoteJWTAuthentication`. It holds no models: the
local user model is found with `get_user_model()` and the field named by `AUTH_USER_ID_FIELD`.
"""

__version__ = "0.1.0"
