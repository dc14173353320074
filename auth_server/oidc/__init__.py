"""The OpenID Connect provider, on Authlib's server components (see provider.py)."""
