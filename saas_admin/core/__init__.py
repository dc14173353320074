"""The seed's import names for the client library, kept for settings and code that use them.

The library itself is the `rozitech-auth` distribution (clients/python, `rozitech_auth`).
"""
