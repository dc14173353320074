"""Multi-factor authentication: TOTP factors, recovery codes, and the login's second step."""

# The methods a login's second step may offer (MfaChallenge.methods, `methods` of the API).
METHOD_TOTP = "totp"
METHOD_RECOVERY_CODE = "recovery_code"
METHOD_WEBAUTHN = "webauthn"  # a passkey (auth_server/passkeys)
