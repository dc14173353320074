"""The mail outbox: written with its cause, delivered with retries, never sent twice on purpose.

Real parts throughout: auth server and `mail-worker` processes, the test's database
(SQLite, or PostgreSQL with AUTH_DATABASE_URL), the aiosmtpd sink.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from pathlib import Path

import httpx
import jinja2
import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import write_po
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from auth_server import migrate
from auth_server.accounts import SignupRequest
from auth_server.config import Settings
from auth_server.db import Database
from auth_server.errors import EmailExists
from auth_server.i18n import Catalogues
from auth_server.models import OutboxMail, User
from auth_server.services import Services
from tests.auth_server.helpers import PASSWORD, bearer, login, new_email, signup, verified_user
from tests.support.auth_process import REPO_ROOT, AuthServerProcess
from tests.support.databases import temporary_database
from tests.support.lifecycle import clocked_server, reset_token
from tests.support.processes import end
from tests.support.smtp import REFUSED_PREFIX, SmtpSink, verification_code


def outbox_rows(database_url: str, recipient: str | None = None) -> list[OutboxMail]:
    database = Database(database_url)
    try:
        with database.session_factory() as db:
            query = select(OutboxMail).order_by(OutboxMail.created_at)
            if recipient is not None:
                query = query.where(OutboxMail.recipient == recipient)
            return list(db.scalars(query))
    finally:
        database.dispose()


def wait_until_recorded(database_url: str, recipient: str, status: str = "sent") -> OutboxMail:
    """The recipient's last mail once its outcome is recorded (just after the SMTP reply)."""
    deadline = time.monotonic() + 15
    while True:
        rows = outbox_rows(database_url, recipient)
        if rows and rows[-1].status == status:
            return rows[-1]
        assert time.monotonic() < deadline, [(r.status, r.attempts) for r in rows]
        time.sleep(0.05)


def parts(message: EmailMessage) -> tuple[str, str]:
    assert message.get_content_type() == "multipart/alternative"
    plain = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert plain is not None and html is not None
    return str(plain.get_content()), str(html.get_content())


def test_every_mail_has_a_text_and_an_html_part_in_the_negotiated_language(
    client: httpx.Client, smtp_sink: SmtpSink, auth_server: AuthServerProcess
) -> None:
    # English is the one catalogue shipped: a German-first browser gets English, said so.
    german_first = {"Accept-Language": "de-CH, de;q=0.9, en;q=0.5"}
    email = new_email()
    body = {"email": email, "password": PASSWORD, "firstName": "A", "lastName": "B", "company": "C"}
    assert client.post("/api/auth/signup", json=body, headers=german_first).status_code == 201
    code_mail = smtp_sink.wait_for(email)
    code = verification_code(code_mail)
    assert client.post("/api/auth/verify-email", json={"email": email, "code": code}).is_success
    session = login(client, email)
    changed = client.post(
        "/api/auth/change-password",
        json={"currentPassword": PASSWORD, "newPassword": "a brand new passphrase"},
        headers={**bearer(session["accessToken"]), **german_first},
    )
    assert changed.status_code == 200, changed.text
    client.post("/api/auth/forgot-password", json={"email": email}, headers=german_first)
    changed_mail = smtp_sink.wait_for(email, count=2)
    reset_mail = smtp_sink.wait_for(email, count=3)

    for message, secret in ((code_mail, code), (changed_mail, None), (reset_mail, None)):
        text, html = parts(message)
        assert message["Content-Language"] == "en"
        assert message["Message-ID"] and message["Auto-Submitted"] == "auto-generated"
        assert html.lstrip().startswith("<!DOCTYPE html>") and '<html lang="en">' in html
        # Inline styles, nothing fetched from anywhere (mail clients block it, and it
        # would tell a tracker when the mail is read).
        assert "<style" not in html and "<link" not in html and "src=" not in html
        if secret:
            assert secret in text and secret in html
    assert "password was changed" in changed_mail["Subject"]
    token = reset_token(reset_mail)
    assert f"#token={token}" in parts(reset_mail)[1]

    # Once sent, no code or link is left in the database; the row stays, for a while.
    sent = wait_until_recorded(auth_server.database_url, email)
    rows = outbox_rows(auth_server.database_url, email)
    assert [r.template for r in rows] == ["verification_code", "password_changed", "password_reset"]
    assert sent.sent_at is not None and sent.last_error is None and sent.attempts == 1
    assert all(r.text_body is None and r.html_body is None for r in rows if r.status == "sent")


@pytest.fixture
def german(tmp_path: Path) -> Catalogues:
    """The shipped templates with a German catalogue of a few of their texts."""
    for locale, texts in {
        "en": {},
        "de": {
            "Your Rozitech verification code": "Ihr Rozitech-Bestätigungscode",
            "Your verification code is:": "Ihr Bestätigungscode lautet:",
        },
    }.items():
        catalog = Catalog(locale=locale)
        for message, translation in texts.items():
            catalog.add(message, translation)
        directory = tmp_path / "locale" / locale / "LC_MESSAGES"
        directory.mkdir(parents=True)
        with (directory / "messages.po").open("wb") as po:
            write_po(po, catalog)
    return Catalogues(tmp_path / "locale", jinja2.PackageLoader("auth_server", "templates"))


@contextmanager
def services_on(workdir: Path, smtp_port: int, **overrides: object) -> Iterator[Services]:
    """The auth server's services in this process, over a fresh migrated database."""
    with temporary_database(workdir) as url:
        migrate.upgrade(url)
        settings = Settings(
            environment="test",
            auth_database_url=url,
            data_dir=workdir,
            redis_url="",
            smtp_host="127.0.0.1",
            smtp_port=smtp_port,
            smtp_starttls=False,
            **overrides,  # type: ignore[arg-type]
        )
        services = Services.build(settings)
        try:
            yield services
        finally:
            services.database.dispose()


def test_the_mail_is_rendered_in_the_locale_it_was_enqueued_in(
    german: Catalogues, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    with services_on(tmp_path, smtp_sink.port) as services:
        services.outbox.catalogues = german
        email = new_email()
        with services.database.session_factory() as db:
            services.outbox.enqueue(
                db, to=email, template="verification_code", locale="de", code="024680", minutes=15
            )
            db.commit()
        assert services.mail_delivery.deliver_due() == 1
    message = smtp_sink.wait_for(email)
    text, html = parts(message)
    assert message["Content-Language"] == "de"
    assert message["Subject"] == "Ihr Rozitech-Bestätigungscode"
    assert "Ihr Bestätigungscode lautet: 024680" in text
    assert '<html lang="de">' in html and "Ihr Bestätigungscode lautet:" in html


def test_the_invitation_carries_the_link_and_no_text_typed_by_users(
    smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    """Organization and inviter names are typed by users: an invitation to any address
    must not carry them (content spoofing), whatever the caller passes."""
    with services_on(tmp_path, smtp_sink.port) as services:
        email = new_email()
        with services.database.session_factory() as db:
            services.outbox.enqueue(
                db,
                to=email,
                template="invitation",
                locale="en",
                organization="Acme\r\nBcc: everyone@example.com",
                inviter="<script>alert(1)</script>",
                accept_link="https://id.example.com/invitations/abc?x=1&y=2",
                valid_days=7,
            )
            db.commit()
        assert services.mail_delivery.deliver_due() == 1
    message = smtp_sink.wait_for(email)
    text, html = parts(message)
    assert message["Bcc"] is None
    assert message["Subject"] == "You are invited to join an organization on Rozitech"
    for part in (text, html):
        assert "Acme" not in part and "script" not in part
    assert 'href="https://id.example.com/invitations/abc?x=1&amp;y=2"' in html
    assert "https://id.example.com/invitations/abc?x=1&y=2" in text
    assert "expires in 7 days" in text


def test_a_rolled_back_signup_leaves_no_mail(smtp_sink: SmtpSink, tmp_path: Path) -> None:
    """Two sign-ups for one address race; the loser's transaction (its code's mail with it)
    rolls back at commit: no code goes out for an account that does not exist."""
    with services_on(tmp_path, smtp_sink.port) as services:
        email = new_email()
        request = SignupRequest(
            email=email,
            password=PASSWORD,
            first_name="Ann",
            last_name="Bee",
            company="Acme",
            phone=None,
            products=[],
        )
        with services.database.session_factory() as db:

            def the_other_signup_commits_first(_db: Session) -> None:
                with services.database.session_factory() as other:
                    other.add(User(email=email, password_hash="x", first_name="O", last_name="P"))
                    other.commit()

            event.listen(db, "before_commit", the_other_signup_commits_first, once=True)
            with pytest.raises(EmailExists):
                services.accounts.signup(db, request)
        assert outbox_rows(services.settings.auth_database_url) == []
        assert services.mail_delivery.deliver_due() == 0
    assert smtp_sink.messages_to(email) == []


def test_mail_written_while_smtp_is_down_goes_out_when_it_is_back(tmp_path: Path) -> None:
    sink = SmtpSink()  # its port, closed until the sink starts
    with temporary_database(tmp_path) as url:
        server = AuthServerProcess(
            url,
            tmp_path,
            smtp_port=sink.port,
            mail_retry_base=0.2,
            mail_retry_max=0.5,
            mail_poll_interval=0.1,
        )
        server.migrate().start()
        try:
            with httpx.Client(base_url=server.base_url, timeout=30) as http:
                email = new_email()
                # Answered at once: the mail waits in the outbox, the sign-up does not.
                assert signup(http, email).status_code == 201
                deadline = time.monotonic() + 15
                while (row := outbox_rows(url, email)[0]).attempts < 2:
                    assert time.monotonic() < deadline
                    time.sleep(0.05)
                assert row.status == "pending" and row.sent_at is None
                # What failed, and nothing of the mail (no code, no address).
                assert row.last_error == "ConnectionRefusedError"
                sink.start()
                try:
                    code = verification_code(sink.wait_for(email))
                finally:
                    sink.stop()
                verified = http.post("/api/auth/verify-email", json={"email": email, "code": code})
                assert verified.status_code == 200, verified.text
                sent = wait_until_recorded(url, email)
                assert sent.attempts >= 3 and sent.text_body is None
                assert len(sink.messages_to(email)) == 1
        finally:
            server.stop()


def test_a_refused_mail_is_given_up_and_blanked(smtp_sink: SmtpSink, tmp_path: Path) -> None:
    """A 5xx answer is final: no retry, and the code is not kept for nobody."""
    with services_on(tmp_path, smtp_sink.port) as services:
        email = f"{REFUSED_PREFIX}{new_email()}"
        with services.database.session_factory() as db:
            services.outbox.enqueue(
                db, to=email, template="verification_code", locale="en", code="111111", minutes=1
            )
            db.commit()
        assert services.mail_delivery.deliver_due() == 0
        [row] = outbox_rows(services.settings.auth_database_url)
    assert row.status == "failed" and row.attempts == 1
    assert row.last_error == "SMTPRecipientsRefused 550"
    assert row.text_body is None and row.html_body is None


@contextmanager
def mail_worker(server: AuthServerProcess, log: Path, **settings: str) -> Iterator[None]:
    """`python -m auth_server mail-worker` with the server's settings."""
    env = {**server.env, **{key.upper(): value for key, value in settings.items()}}
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "auth_server", "mail-worker"],
            cwd=REPO_ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            yield
            # SIGTERM ends it cleanly (what systemd and `make run` send).
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=30) == 0, log.read_text()
        finally:
            end(process)


def test_two_workers_never_send_one_mail_twice(smtp_sink: SmtpSink, tmp_path: Path) -> None:
    """Two `mail-worker`s over one outbox (PostgreSQL: SKIP LOCKED claims; SQLite: its one
    writer): every mail goes out exactly once."""
    with services_on(tmp_path, smtp_sink.port) as services:
        url = services.settings.auth_database_url
        recipients = [new_email() for _ in range(40)]
        with services.database.session_factory() as db:
            for email in recipients:
                services.outbox.enqueue(db, to=email, template="password_changed", locale="en")
            db.commit()
        server = AuthServerProcess(url, tmp_path, smtp_port=smtp_sink.port)
        small_batches = {"mail_batch_size": "3", "mail_poll_interval": "0.05"}
        with (
            mail_worker(server, tmp_path / "worker-1.log", **small_batches),
            mail_worker(server, tmp_path / "worker-2.log", **small_batches),
        ):
            deadline = time.monotonic() + 60
            while any(row.status != "sent" for row in outbox_rows(url)):
                assert time.monotonic() < deadline
                time.sleep(0.1)
        # Both stopped and every row is recorded as sent: nothing more can go out.
        assert {email: len(smtp_sink.messages_to(email)) for email in recipients} == {
            email: 1 for email in recipients
        }
        assert all(row.attempts == 1 for row in outbox_rows(url))


def test_the_worker_logs_codes_framed_without_smtp(tmp_path: Path) -> None:
    """MAIL_DELIVERY=worker: the server only writes the outbox; without SMTP_HOST the worker
    frames each mail in its log, as the embedded delivery does in the server's."""
    with temporary_database(tmp_path) as url:
        server = AuthServerProcess(url, tmp_path, mail_delivery="worker")
        server.migrate().start()
        log = tmp_path / "worker.log"
        try:
            with mail_worker(server, log):
                with httpx.Client(base_url=server.base_url, timeout=30) as http:
                    email = new_email()
                    assert signup(http, email).status_code == 201
                deadline = time.monotonic() + 15
                while f"To:      {email}" not in log.read_text():
                    assert time.monotonic() < deadline, log.read_text()
                    time.sleep(0.05)
        finally:
            server.stop()
        framed = log.read_text().split(f"To:      {email}", 1)[1].split("=" * 72, 1)[0]
        assert re.search(r"Your verification code is: \d{6}\b", framed)
        assert f"To:      {email}" not in server.log()
        assert "Mail worker stopped" in log.read_text()


def test_purge_deletes_finished_mail_after_its_retention(
    smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    with clocked_server(tmp_path, smtp_sink.port) as (server, clock):
        with httpx.Client(base_url=server.base_url, timeout=30) as http:
            email = verified_user(http, smtp_sink)
        wait_until_recorded(server.database_url, email)
        assert "mail_outbox 0" in server.run_command("purge")
        clock.advance(8 * 86400)  # MAIL_RETENTION_DAYS is 7
        assert "mail_outbox 1" in server.run_command("purge")
        assert outbox_rows(server.database_url, email) == []


def test_erasing_an_account_deletes_its_mail(
    client: httpx.Client, smtp_sink: SmtpSink, auth_server: AuthServerProcess
) -> None:
    email = verified_user(client, smtp_sink)
    wait_until_recorded(auth_server.database_url, email)
    session = login(client, email)
    erased = client.request(
        "DELETE",
        "/api/auth/account",
        json={"password": PASSWORD},
        headers=bearer(session["accessToken"]),
    )
    assert erased.status_code == 200, erased.text
    assert outbox_rows(auth_server.database_url, email) == []


def test_a_resent_code_is_one_more_mail(
    client: httpx.Client, smtp_sink: SmtpSink, auth_server: AuthServerProcess
) -> None:
    """A resend writes one more mail, with the new code, in the transaction that replaces it."""
    email = new_email()
    assert signup(client, email).status_code == 201
    first = verification_code(smtp_sink.wait_for(email))
    resent = client.post("/api/auth/resend-verification", json={"email": email})
    assert resent.status_code == 200
    second = verification_code(smtp_sink.wait_for(email, count=2))
    assert [row.template for row in outbox_rows(auth_server.database_url, email)] == [
        "verification_code",
        "verification_code",
    ]
    stale = client.post("/api/auth/verify-email", json={"email": email, "code": first})
    assert first == second or stale.status_code == 400
    verified = client.post("/api/auth/verify-email", json={"email": email, "code": second})
    assert verified.status_code == 200, verified.text
