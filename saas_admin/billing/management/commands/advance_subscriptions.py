from typing import Any

from django.core.management.base import BaseCommand

from billing.services import advance_all


class Command(BaseCommand):
    help = "Renew or end every subscription whose period has ended (safe to run any time)."

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(f"Subscriptions advanced: {advance_all()}")
