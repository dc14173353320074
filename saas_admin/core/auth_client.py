"""Thin re-export: the client is `rozitech_auth.client`."""

from rozitech_auth.client import *  # noqa: F403
