import signal
import time
from types import FrameType
from typing import Any

from django.core.management.base import BaseCommand
from rozitech_auth.client import get_auth_client

from billing.outbox import deliver_due
from billing.services import advance_all


class Command(BaseCommand):
    help = (
        "Deliver queued license updates to the auth server, in order per organization, "
        "with retries; every --advance-interval seconds also renew or end the subscriptions "
        "whose period has ended (trials, cancellations). Runs until stopped; --once does "
        "both once and exits."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--once", action="store_true", help="deliver what is due, then exit")
        parser.add_argument("--interval", type=float, default=1.0, help="seconds between polls")
        parser.add_argument(
            "--advance-interval",
            type=float,
            default=60.0,
            help="seconds between two runs of advance_subscriptions (0: never)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        stopping = False

        def stop(_signum: int, _frame: FrameType | None) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        # Ctrl-C too: finish the delivery under way and stop quietly, no traceback.
        signal.signal(signal.SIGINT, stop)
        client = get_auth_client()
        advance_every = options["advance_interval"]
        next_advance = time.monotonic()
        while True:
            if advance_every > 0 and time.monotonic() >= next_advance:
                # Before delivering: the licence updates an ended trial queues go out now.
                # Safe with several workers: each subscription is advanced under its row lock.
                advanced = advance_all()
                if advanced:
                    self.stdout.write(f"Subscriptions advanced: {advanced}")
                next_advance = time.monotonic() + advance_every
            report = deliver_due(client)
            if report.delivered or report.retried or report.failed:
                self.stdout.write(
                    f"License updates: {report.delivered} delivered, {report.retried} to "
                    f"retry, {report.failed} refused"
                )
            if options["once"] or stopping:
                return
            time.sleep(options["interval"])
