"""Settings modules: base, development, production, test."""

from __future__ import annotations

import os


def default_module() -> str:
    """The settings module for ENVIRONMENT, when DJANGO_SETTINGS_MODULE is not set."""
    if os.environ.get("ENVIRONMENT") == "production":
        return "config.settings.production"
    return "config.settings.development"
