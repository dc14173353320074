"""`manage.py bootstrap`: what every deploy runs before the new release serves (idempotent)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from billing.catalog import seed_catalog


class Command(BaseCommand):
    help = (
        "Migrate, collect static files (when STATIC_ROOT is set: production) and add the "
        "product catalogue's missing entries; safe to run on every deploy."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        verbosity = int(options["verbosity"])
        call_command("migrate", interactive=False, verbosity=verbosity)
        if getattr(settings, "STATIC_ROOT", None):
            call_command("collectstatic", interactive=False, verbosity=verbosity)
        # Never overwrite: prices and names an operator edited in the admin site stay.
        products, plans = seed_catalog(overwrite=False)
        self.stdout.write(f"Catalogue: {products} products, {plans} plans")
