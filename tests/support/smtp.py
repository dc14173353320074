"""A real SMTP server (aiosmtpd) that keeps what it receives, for tests to read."""

from __future__ import annotations

import re
import threading
import time
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from tests.support.ports import free_port

# Recipients whose address starts with this are refused for good (550), as a mail server
# refuses a mailbox that does not exist.
REFUSED_PREFIX = "refused-"


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.changed = threading.Condition()

    async def handle_RCPT(
        self, _server: Any, _session: Any, envelope: Any, address: str, _options: Any
    ) -> str:
        if address.startswith(REFUSED_PREFIX):
            return "550 5.1.1 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        with self.changed:
            self.messages.append(parsed)
            self.changed.notify_all()
        return "250 OK"


class SmtpSink:
    def __init__(self) -> None:
        self.port = free_port()
        self._inbox = _Inbox()
        self._controller = Controller(self._inbox, hostname="127.0.0.1", port=self.port)

    def start(self) -> SmtpSink:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def messages_to(self, address: str) -> list[EmailMessage]:
        with self._inbox.changed:
            return [m for m in self._inbox.messages if m["To"] == address]

    def wait_for(self, address: str, count: int = 1, timeout: float = 10.0) -> EmailMessage:
        """The `count`-th message to `address`, waiting for it to arrive."""
        deadline = time.monotonic() + timeout
        with self._inbox.changed:
            while True:
                found = [m for m in self._inbox.messages if m["To"] == address]
                if len(found) >= count:
                    return found[count - 1]
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"no message #{count} to {address} within {timeout}s")
                self._inbox.changed.wait(remaining)


def body_text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def verification_code(message: EmailMessage) -> str:
    match = re.search(r"\b(\d{6})\b", body_text(message))
    assert match, "no six-digit code in the message"
    return match.group(1)
