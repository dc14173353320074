"""Invitations through the real server, the link read from the real SMTP sink: accept,
sign up with it, withdraw, expiry, the e-mail check, seats, rights and the rate limit."""

from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import redis

from auth_server.config import redis_channel
from tests.auth_server.helpers import login, new_email, signup
from tests.auth_server.organization_helpers import (
    API,
    Person,
    accept,
    invitation_token,
    invite,
    invited,
    join,
    members,
    person,
    put_license,
    remove,
)
from tests.support.auth_process import AuthServerProcess
from tests.support.lifecycle import REDIS_URL, TestClock, clocked_server, needs_redis
from tests.support.smtp import SmtpSink, body_text, verification_code


def test_invite_by_mail_and_accept_once(
    http: httpx.Client, smtp_sink: SmtpSink, owner: Person
) -> None:
    guest = person(http, smtp_sink)
    sent = invite(http, owner, owner.own_org, guest.email.upper(), "admin")
    assert sent.status_code == 201, sent.text
    [pending] = sent.json()["data"]["invitations"]
    assert (pending["email"], pending["role"]) == (guest.email, "admin")
    # The second mail: the first was the verification code.
    mail = body_text(smtp_sink.wait_for(guest.email, 2))
    # No text typed by the inviter reaches the invitee's mailbox.
    assert "Invite Corp" not in mail
    token = invitation_token(smtp_sink, guest.email, 2)
    listed = http.get(f"{API}/organizations/{owner.own_org}/invitations", headers=owner.headers)
    assert [i["id"] for i in listed.json()["data"]["invitations"]] == [pending["id"]]
    joined = accept(http, guest, token)
    assert joined.status_code == 200, joined.text
    assert (joined.json()["data"]["id"], joined.json()["data"]["role"]) == (owner.own_org, "admin")
    assert members(http, owner, owner.own_org)[guest.user_id] == "admin"
    # Single use, and no longer pending.
    again = accept(http, guest, token)
    assert again.status_code == 400 and again.json()["code"] == "invalid_invitation"
    listed = http.get(f"{API}/organizations/{owner.own_org}/invitations", headers=owner.headers)
    assert listed.json()["data"]["invitations"] == []
    assert invite(http, owner, owner.own_org, guest.email).json()["code"] == "already_member"


def test_only_the_invited_address_may_accept(
    http: httpx.Client, smtp_sink: SmtpSink, owner: Person
) -> None:
    guest, other = person(http, smtp_sink), person(http, smtp_sink)
    token = invited(http, smtp_sink, owner, owner.own_org, guest.email)
    refused = accept(http, other, token)
    assert refused.status_code == 403 and refused.json()["code"] == "invitation_email_mismatch"
    assert accept(http, other, "not-a-token").json()["code"] == "invalid_invitation"
    assert accept(http, guest, token).status_code == 200


def test_inviting_tells_nothing_about_accounts(
    http: httpx.Client, smtp_sink: SmtpSink, owner: Person
) -> None:
    known, unknown = person(http, smtp_sink).email, new_email()
    answers = [invite(http, owner, owner.own_org, email) for email in (known, unknown)]
    assert [a.status_code for a in answers] == [201, 201]
    shapes = [set(a.json()["data"]["invitations"][0]) for a in answers]
    assert shapes[0] == shapes[1]
    # The known address had its verification code first.
    mails = ((known, 2), (unknown, 1))
    texts = [body_text(smtp_sink.wait_for(email, n)) for email, n in mails]
    tokens = [invitation_token(smtp_sink, email, n) for email, n in mails]
    assert texts[0].replace(tokens[0], "T") == texts[1].replace(tokens[1], "T")


def test_sign_up_with_an_invitation_joins_instead_of_creating(
    http: httpx.Client, smtp_sink: SmtpSink, owner: Person
) -> None:
    email = new_email()
    token = invited(http, smtp_sink, owner, owner.own_org, email)
    wrong = signup(http, new_email(), company="", invitationToken=token)
    assert wrong.status_code == 403 and wrong.json()["code"] == "invitation_email_mismatch"
    no_company = signup(http, new_email(), company="")
    assert no_company.status_code == 400 and "company" in no_company.json()["errors"]
    created = signup(http, email, company="", invitationToken=token)
    assert created.status_code == 201, created.text
    assert created.json()["data"]["organizationId"] == owner.own_org
    code = verification_code(smtp_sink.wait_for(email, 2))
    verified = http.post(f"{API}/verify-email", json={"email": email, "code": code})
    assert verified.status_code == 200
    session = login(http, email)
    assert session["organization"]["id"] == owner.own_org
    assert [m["id"] for m in session["memberships"]] == [owner.own_org]
    again = signup(http, email, company="", invitationToken=token)
    assert again.status_code == 409


def test_withdrawn_superseded_and_expired_invitations_do_not_work(
    http: httpx.Client,
    smtp_sink: SmtpSink,
    owner: Person,
    running: tuple[AuthServerProcess, TestClock],
) -> None:
    clock = running[1]
    guest = person(http, smtp_sink)
    first = invited(http, smtp_sink, owner, owner.own_org, guest.email)
    second = invited(http, smtp_sink, owner, owner.own_org, guest.email)
    assert accept(http, guest, first).json()["code"] == "invalid_invitation"
    [pending] = http.get(
        f"{API}/organizations/{owner.own_org}/invitations", headers=owner.headers
    ).json()["data"]["invitations"]
    url = f"{API}/organizations/{owner.own_org}/invitations/{pending['id']}"
    assert http.delete(url, headers=owner.headers).status_code == 200
    assert http.delete(url, headers=owner.headers).json()["code"] == "invitation_not_found"
    assert accept(http, guest, second).json()["code"] == "invalid_invitation"
    third = invited(http, smtp_sink, owner, owner.own_org, guest.email)
    try:
        clock.advance(7 * 86400 + 1)
        guest_again = login(http, guest.email)
        expired = http.post(
            f"{API}/invitations/accept",
            json={"token": third},
            headers={"Authorization": f"Bearer {guest_again['accessToken']}"},
        )
        # Withdrawn, superseded and expired: `purge` deletes all three (and others').
        purged = re.search(r"invitations (\d+)", running[0].run_command("purge"))
        assert purged and int(purged.group(1)) >= 3
    finally:
        clock.reset()
    assert expired.status_code == 400 and expired.json()["code"] == "invalid_invitation"


def test_the_seat_limit_of_usable_licenses(
    http: httpx.Client, smtp_sink: SmtpSink, owner: Person, server: AuthServerProcess
) -> None:
    org = owner.own_org
    assert (
        put_license(
            http, server, org, "teamspace", status="active", expiresAt=None, version=1, seats=2
        ).status_code
        == 200
    )
    second, third = person(http, smtp_sink), person(http, smtp_sink)
    join(http, smtp_sink, owner, org, second)
    token = invited(http, smtp_sink, owner, org, third.email)
    full = accept(http, third, token)
    assert full.status_code == 409 and full.json()["code"] == "seat_limit_reached"
    # A seat freed, the same invitation works (the refusal did not spend it).
    assert remove(http, owner, org, second.user_id).status_code == 200
    assert accept(http, third, token).status_code == 200
    # An ended license caps nothing.
    assert (
        put_license(
            http, server, org, "teamspace", status="cancelled", expiresAt=None, version=2, seats=2
        ).status_code
        == 200
    )
    join(http, smtp_sink, owner, org, second)
    assert len(members(http, owner, org)) == 3


def test_two_acceptances_cannot_both_take_the_last_seat(
    http: httpx.Client, smtp_sink: SmtpSink, owner: Person, server: AuthServerProcess
) -> None:
    org = owner.own_org
    licensed = put_license(
        http, server, org, "insurance", status="trial", expiresAt=None, version=1, seats=2
    )
    assert licensed.status_code == 200
    guests = [person(http, smtp_sink) for _ in range(2)]
    tokens = [invited(http, smtp_sink, owner, org, guest.email) for guest in guests]

    def take(pair: tuple[Person, str]) -> int:
        with httpx.Client(base_url=server.base_url, timeout=30) as own:
            return accept(own, *pair).status_code

    with ThreadPoolExecutor(2) as pool:
        statuses = sorted(pool.map(take, zip(guests, tokens, strict=True)))
    assert statuses == [200, 409]
    assert len(members(http, owner, org)) == 2


def test_who_may_invite(http: httpx.Client, smtp_sink: SmtpSink, owner: Person) -> None:
    org = owner.own_org
    admin, member, stranger = (person(http, smtp_sink) for _ in range(3))
    join(http, smtp_sink, owner, org, admin, role="admin")
    join(http, smtp_sink, owner, org, member)
    assert invite(http, admin, org, new_email()).status_code == 201
    assert invite(http, admin, org, new_email(), "owner").json()["code"] == "insufficient_role"
    assert invite(http, member, org, new_email()).json()["code"] == "insufficient_role"
    assert invite(http, stranger, org, new_email()).json()["code"] == "organization_not_found"
    listed = http.get(f"{API}/organizations/{org}/invitations", headers=member.headers)
    assert listed.status_code == 403
    bad = invite(http, owner, org, "not-an-address")
    assert bad.status_code == 400 and bad.json()["code"] == "validation_error"


def test_invitations_are_rate_limited(smtp_sink: SmtpSink, tmp_path: Path) -> None:
    limited_server = clocked_server(tmp_path, smtp_sink.port, invitations_per_user="2/hour")
    with limited_server as (server, _), httpx.Client(base_url=server.base_url, timeout=30) as http:
        owner = person(http, smtp_sink)
        statuses = [invite(http, owner, owner.own_org, new_email()).status_code for _ in range(3)]
        limited = invite(http, owner, owner.own_org, new_email())
    assert statuses == [201, 201, 429]
    assert limited.json()["code"] == "rate_limited" and int(limited.headers["Retry-After"]) > 0


@needs_redis("membership events are published on the Redis channel")
def test_membership_events_reach_redis(smtp_sink: SmtpSink, tmp_path: Path) -> None:
    with clocked_server(tmp_path, smtp_sink.port, redis_url=REDIS_URL) as (server, _):
        subscriber = redis.Redis.from_url(REDIS_URL)
        pubsub = subscriber.pubsub()  # type: ignore[no-untyped-call]
        try:
            pubsub.subscribe(redis_channel(server.revocation_channel, "", REDIS_URL))
            assert pubsub.get_message(timeout=10)["type"] == "subscribe"
            with httpx.Client(base_url=server.base_url, timeout=30) as http:
                owner, guest = person(http, smtp_sink), person(http, smtp_sink)
                join(http, smtp_sink, owner, owner.own_org, guest)
                assert remove(http, owner, owner.own_org, guest.user_id).status_code == 200
            message = pubsub.get_message(ignore_subscribe_messages=True, timeout=10)
            assert message is not None, "the event was not published"
            event = json.loads(message["data"])
            assert (event["type"], event["sub"], event["org"], event["reason"]) == (
                "membership_changed",
                guest.user_id,
                owner.own_org,
                "removed",
            )
        finally:
            pubsub.close()
            subscriber.close()
