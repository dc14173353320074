"""The client side of the auth server: a Django app any Django/DRF service can take as it is.

Public names: `core.auth_client.AuthServerClient`, `core.auth_client.get_auth_client`,
`core.authentication.RemoteJWTAuthentication`, `OptionalRemoteJWTAuthentication`,
`CachedRemoteJWTAuthentication`. It holds no models: the local user model is found
with `get_user_model()` and the field named by `AUTH_USER_ID_FIELD`.
"""
