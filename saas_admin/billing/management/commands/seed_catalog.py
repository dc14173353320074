from typing import Any

from django.core.management.base import BaseCommand

from billing.catalog import seed_catalog


class Command(BaseCommand):
    help = "Create or update the products and plans (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        products, plans = seed_catalog()
        self.stdout.write(f"Catalogue: {products} products, {plans} plans")
