"""Settings for `make run` and local work: the base settings with DEBUG on by default."""

from __future__ import annotations

from config.settings.base import *  # noqa: F403
