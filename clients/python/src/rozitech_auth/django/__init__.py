"""The Django/DRF adapter: add "rozitech_auth.django" to INSTALLED_APPS.

Importing it makes Django's settings the library's settings source (rozitech_auth.conf).
"""

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from rozitech_auth import conf


def _setting(name: str, default: object) -> object:
    return getattr(settings, name, default)


conf.use_source(conf.Source(_setting, ImproperlyConfigured))
