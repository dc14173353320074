import os
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from accounts.backends import LoginRefused, login_through_auth_server
from accounts.sessions import end_auth_server_session
from billing import services
from billing.catalog import seed_catalog
from billing.models import Plan, Subscription
from organizations.models import Membership


class Command(BaseCommand):
    help = (
        "Log in to the auth server as the given user, mirror their organization, and subscribe "
        "it to every product it has no subscription to (business plan, yearly; a demo)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--email", required=True)
        # Default $ADMIN_PASSWORD: a password in argv is visible to every user in `ps`.
        parser.add_argument("--password", help="default: the ADMIN_PASSWORD variable")

    def handle(self, *args: Any, **options: Any) -> None:
        password = options["password"] or os.environ.get("ADMIN_PASSWORD", "")
        if not password:
            raise CommandError("Give --password or set ADMIN_PASSWORD")
        seed_catalog()
        try:
            user = login_through_auth_server(options["email"], password)
        except LoginRefused as exc:
            raise CommandError(str(exc)) from exc
        # The login only identified the user: its auth-server session is not kept.
        if user.auth_server_tokens:
            end_auth_server_session(user.auth_server_tokens["refresh"])
        membership = (
            Membership.objects.filter(user_id=user.pk).select_related("organization").first()
        )
        if membership is None:
            raise CommandError("This account has no organization in the auth server")
        organization = membership.organization
        started = 0
        for plan in Plan.objects.filter(code="business-yearly").select_related("product"):
            taken = Subscription.objects.filter(organization=organization, product=plan.product)
            if not taken.exists():
                services.subscribe(organization, plan)
                started += 1
        self.stdout.write(
            f"Demo organization: {organization.name} ({organization.pk}); "
            f"subscriptions started: {started}"
        )
