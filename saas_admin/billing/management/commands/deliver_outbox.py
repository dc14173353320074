import signal
import time
from types import FrameType
from typing import Any

from django.core.management.base import BaseCommand

from billing.outbox import deliver_due
from core.auth_client import get_auth_client


class Command(BaseCommand):
    help = (
        "Deliver queued license updates to the auth server, in order per organization, "
        "with retries. Runs until stopped; --once delivers what is due and exits."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--once", action="store_true", help="deliver what is due, then exit")
        parser.add_argument("--interval", type=float, default=1.0, help="seconds between polls")

    def handle(self, *args: Any, **options: Any) -> None:
        stopping = False

        def stop(_signum: int, _frame: FrameType | None) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        # Ctrl-C too: finish the delivery under way and stop quietly, no traceback.
        signal.signal(signal.SIGINT, stop)
        client = get_auth_client()
        while True:
            report = deliver_due(client)
            if report.delivered or report.retried or report.failed:
                self.stdout.write(
                    f"License updates: {report.delivered} delivered, {report.retried} to "
                    f"retry, {report.failed} refused"
                )
            if options["once"] or stopping:
                return
            time.sleep(options["interval"])
