"""Delivery of the mail outbox: claim due mails, send each through the Mailer, record it.

Where it runs (MAIL_DELIVERY):

- `embedded` (the default): every auth-server process runs this loop in a thread of its
  own, woken right after any of its commits that enqueued mail (outbox.py's after-commit
  hook), and otherwise every MAIL_POLL_INTERVAL for retries and for mail that other
  processes wrote. So a server alone (tests, `python -m auth_server serve`, a replica)
  delivers at once and needs nothing else set up; replicas share the work safely (claims).
- `worker`: the server only writes the outbox; `python -m auth_server mail-worker`
  processes (one or more, `make run` starts one) deliver, polling every
  MAIL_POLL_INTERVAL. A slow or dead mail server then never shares a process with requests.

Both run the same `MailDelivery` and can run side by side. On stop (SIGTERM) a pass that
is under way finishes, one more pass delivers what is due, and the loop ends; a mail
still held then is tried by another process once its claim expires.
"""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

from sqlalchemy.exc import SQLAlchemyError

from auth_server.db import Database
from auth_server.mailer import Mailer, MailNotSent
from auth_server.outbox import MailOutbox

logger = logging.getLogger("auth_server.mail_delivery")

# Seconds `stop` waits for the thread's last pass (a hung SMTP server must not hold a
# shutdown for long: the claim expires and another process retries).
STOP_TIMEOUT = 15.0


class MailDelivery:
    def __init__(
        self, outbox: MailOutbox, mailer: Mailer, database: Database, poll_interval: float
    ) -> None:
        self.outbox = outbox
        self.mailer = mailer
        self.database = database
        self.poll_interval = poll_interval
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def wake(self) -> None:
        """Look for due mail now (safe from any thread)."""
        self._wake.set()

    def deliver_due(self) -> int:
        """Claims and sends due mail until none is left; returns how many were sent."""
        sent = 0
        while True:
            with self.database.session_factory() as db:
                claimed = self.outbox.claim(db)
                for mail in claimed:
                    try:
                        self.mailer.send(mail.mail)
                    except MailNotSent as failure:
                        self.outbox.record_failure(db, mail, failure)
                    else:
                        self.outbox.record_sent(db, mail)
                        sent += 1
            if not claimed:
                return sent

    def run(self) -> None:
        """Delivers until `stop`: at once, then on each wake-up or poll interval."""
        while True:
            try:
                self.deliver_due()
            except SQLAlchemyError as exc:
                # The database is away: the mail waits in it; try again on the next tick.
                logger.warning("Mail delivery pass failed (%s); retrying", exc)
            except Exception:
                # Whatever else went wrong, the loop lives on: a dead thread would leave
                # every later mail of this process unsent without a word.
                logger.exception("Mail delivery pass failed; retrying")
            if self._stopping.is_set():
                return
            self._wake.wait(self.poll_interval)
            self._wake.clear()

    # -- in a thread (embedded) ------------------------------------------------------------

    def start(self) -> None:
        self.outbox.committed_hooks.append(self.wake)
        self._thread = threading.Thread(target=self.run, name="mail-delivery", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Ends the loop after one more pass; waits for it at most STOP_TIMEOUT."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(STOP_TIMEOUT)
            self._thread = None

    # -- as the process (mail-worker) -------------------------------------------------------

    def run_until_signalled(self) -> None:
        """Runs in this thread until SIGTERM or SIGINT."""

        def stop(_number: int, _frame: FrameType | None) -> None:
            self._stopping.set()
            self._wake.set()

        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, stop)
        logger.info("Mail worker started (polling every %.1f s)", self.poll_interval)
        self.run()
        logger.info("Mail worker stopped")
