"""Passkeys (WebAuthn, with py_webauthn): registered per user, used to sign in without a
password (discoverable credentials) or as the second factor after one."""
