"""ASGI entry point of the SaaS Admin."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

from config import tracing
from config.settings import default_module

os.environ.setdefault("DJANGO_SETTINGS_MODULE", default_module())
tracing.install()  # before the application (and its middleware list) is built
application = get_asgi_application()
