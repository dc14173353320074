"""The product catalogue the SaaS Admin starts with."""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction

from billing.models import Interval, Plan, Product

PRODUCTS = {
    "teamspace": ("TeamSpace", "Team collaboration"),
    "insurance": ("Insurance", "Policy administration"),
    "saas-admin": ("SaaS Admin", "Organizations, plans and subscriptions"),
}
# (code, name, monthly price, max users); yearly plans cost ten months.
TIERS = [
    ("starter", "Starter", Decimal("29.00"), 5),
    ("business", "Business", Decimal("99.00"), 50),
]


@transaction.atomic
def seed_catalog(*, overwrite: bool = True) -> tuple[int, int]:
    """Create the products and their plans, updating existing ones unless `overwrite` is
    False (then prices and names edited in the admin site are kept); safe to run again."""
    plans = 0
    products = Product.objects.update_or_create if overwrite else Product.objects.get_or_create
    plan_rows = Plan.objects.update_or_create if overwrite else Plan.objects.get_or_create
    for code, (name, description) in PRODUCTS.items():
        product, _ = products(code=code, defaults={"name": name, "description": description})
        for tier, tier_name, monthly, max_users in TIERS:
            for interval, price in ((Interval.MONTHLY, monthly), (Interval.YEARLY, monthly * 10)):
                plan_rows(
                    product=product,
                    code=f"{tier}-{interval}",
                    defaults={
                        "name": f"{tier_name} ({interval})",
                        "price": price,
                        "currency": "USD",
                        "interval": interval,
                        "trial_days": 14,
                        "max_users": max_users,
                    },
                )
                plans += 1
    return len(PRODUCTS), plans
