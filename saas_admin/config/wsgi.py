"""WSGI entry point of the SaaS Admin."""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

from config.settings import default_module

os.environ.setdefault("DJANGO_SETTINGS_MODULE", default_module())
application = get_wsgi_application()
