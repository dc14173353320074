"""The admin API for trusted services: users, sessions and licenses."""

from __future__ import annotations

import random
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from auth_server.administration import Administration, LicenseChange, LicenseUpdate
from auth_server.audit import AuditLog
from auth_server.clock import Clock
from auth_server.config import Settings
from auth_server.db import make_engine
from auth_server.models import AuditEvent
from auth_server.revocations import RevocationPublisher, Revocations
from auth_server.sessions import ClientInfo
from tests.auth_server.helpers import (
    PASSWORD,
    bearer,
    database,
    drain_feed,
    feed_cursor,
    login,
    unverified_claims,
    verified_user,
)
from tests.support.auth_process import AuthServerProcess
from tests.support.databases import NEEDS_POSTGRES, temporary_database
from tests.support.smtp import SmtpSink


@pytest.fixture(scope="module")
def admin_server(
    smtp_sink: SmtpSink, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AuthServerProcess]:
    workdir: Path = tmp_path_factory.mktemp("admin-api")
    with temporary_database(workdir) as url:
        server = AuthServerProcess(url, workdir, smtp_sink.port, rate_limit_per_ip="100000/minute")
        server.migrate().start()
        yield server
        server.stop()


@pytest.fixture
def http(admin_server: AuthServerProcess) -> Iterator[httpx.Client]:
    """A client that is a trusted service (and also logs users in)."""
    with httpx.Client(
        base_url=admin_server.base_url, timeout=30, headers=admin_server.service_headers()
    ) as client:
        yield client


def audit_events(server: AuthServerProcess, event: str) -> list[AuditEvent]:
    with database(server) as db:
        return list(db.scalars(select(AuditEvent).where(AuditEvent.event == event)))


def put_license(http: httpx.Client, org: str, product: str, **body: Any) -> httpx.Response:
    return http.put(f"/api/admin/organizations/{org}/licenses/{product}", json=body)


ADMIN_CALLS = [
    ("POST", f"/api/admin/users/{uuid.uuid4()}/disable", None),
    ("POST", f"/api/admin/users/{uuid.uuid4()}/enable", None),
    ("POST", f"/api/admin/sessions/{uuid.uuid4()}/revoke", None),
    (
        "PUT",
        f"/api/admin/organizations/{uuid.uuid4()}/licenses/teamspace",
        {"status": "active", "expiresAt": None, "version": 1},
    ),
]


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_CALLS)
def test_admin_api_is_for_services_only(
    client: httpx.Client,
    auth_server: AuthServerProcess,
    smtp_sink: SmtpSink,
    method: str,
    path: str,
    body: dict[str, Any] | None,
) -> None:
    user = login(client, verified_user(client, smtp_sink))
    for headers in ({}, {"X-Service-Token": "wrong"}, bearer(user["accessToken"])):
        refused = client.request(method, path, json=body, headers=headers)
        assert refused.status_code == 401
        assert refused.json()["code"] == "invalid_service_token"
    # With the session fixture's credential: past the gate (to a 404: the ids are random).
    allowed = client.request(method, path, json=body, headers=auth_server.service_headers())
    assert allowed.status_code == 404 and allowed.json()["success"] is False


def test_disable_and_enable_a_user(
    http: httpx.Client, admin_server: AuthServerProcess, smtp_sink: SmtpSink
) -> None:
    email = verified_user(http, smtp_sink)
    sessions = [login(http, email) for _ in range(2)]
    user_id = sessions[0]["user"]["id"]
    cursor = feed_cursor(http, admin_server)

    disabled = http.post(f"/api/admin/users/{user_id}/disable")
    assert disabled.status_code == 200, disabled.text
    data = disabled.json()["data"]
    assert data["changed"] is True and data["revokedSessions"] == 2
    assert data["user"]["id"] == user_id and data["user"]["isActive"] is False
    # Every token and refresh token stops; the password no longer logs in.
    for session in sessions:
        me = http.get("/api/auth/me", headers=bearer(session["accessToken"]))
        assert me.status_code == 401
        again = http.post("/api/auth/refresh", json={"refreshToken": session["refreshToken"]})
        assert again.status_code == 401
    refused = http.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    assert refused.status_code == 403 and refused.json()["code"] == "account_disabled"
    # The feed: one event per session, and the user as a whole.
    events = drain_feed(http, admin_server, cursor)[0]
    assert sorted((e["type"], e["sid"] or "", e["reason"]) for e in events) == sorted(
        [("session", unverified_claims(s["accessToken"])["sid"], "user_disabled") for s in sessions]
        + [("user", "", "user_disabled")]
    )
    assert {e["sub"] for e in events} == {user_id}
    cursor = events[-1]["cursor"]

    # Again: nothing to change, nothing to announce.
    twice = http.post(f"/api/admin/users/{user_id}/disable").json()["data"]
    assert twice["changed"] is False and twice["revokedSessions"] == 0
    assert drain_feed(http, admin_server, cursor)[0] == []

    enabled = http.post(f"/api/admin/users/{user_id}/enable")
    assert enabled.status_code == 200
    assert enabled.json()["data"]["changed"] is True
    assert enabled.json()["data"]["user"]["isActive"] is True
    fresh = login(http, email)
    assert http.get("/api/auth/me", headers=bearer(fresh["accessToken"])).status_code == 200
    assert http.post(f"/api/admin/users/{user_id}/enable").json()["data"]["changed"] is False
    assert drain_feed(http, admin_server, cursor)[0] == []  # enabling revokes nothing

    outcomes = {
        name: [
            (e.outcome, (e.details or {}).get("actor"))
            for e in audit_events(admin_server, name)
            if str(e.user_id) == user_id
        ]
        for name in ("user_disabled", "user_enabled")
    }
    assert outcomes == {
        "user_disabled": [("success", "service"), ("unchanged", "service")],
        "user_enabled": [("success", "service"), ("unchanged", "service")],
    }


def test_revoke_a_session(
    http: httpx.Client, admin_server: AuthServerProcess, smtp_sink: SmtpSink
) -> None:
    email = verified_user(http, smtp_sink)
    doomed, kept = login(http, email), login(http, email)
    sid = unverified_claims(doomed["accessToken"])["sid"]
    cursor = feed_cursor(http, admin_server)

    revoked = http.post(f"/api/admin/sessions/{sid}/revoke")
    assert revoked.status_code == 200
    assert revoked.json()["data"] == {"id": sid, "revoked": True, "changed": True}
    assert http.get("/api/auth/me", headers=bearer(doomed["accessToken"])).status_code == 401
    assert http.get("/api/auth/me", headers=bearer(kept["accessToken"])).status_code == 200
    events = drain_feed(http, admin_server, cursor)[0]
    assert [(e["type"], e["sid"], e["reason"]) for e in events] == [
        ("session", sid, "revoked_by_service")
    ]
    again = http.post(f"/api/admin/sessions/{sid}/revoke")
    assert again.json()["data"] == {"id": sid, "revoked": True, "changed": False}
    assert drain_feed(http, admin_server, events[-1]["cursor"])[0] == []
    audit = [
        e
        for e in audit_events(admin_server, "session_revoked")
        if (e.details or {}).get("session") == sid
    ]
    assert [(e.outcome, str(e.user_id)) for e in audit] == [
        ("success", doomed["user"]["id"]),
        ("unchanged", doomed["user"]["id"]),
    ]


def test_unknown_and_malformed_ids(http: httpx.Client) -> None:
    for path, code in (
        (f"/api/admin/users/{uuid.uuid4()}/disable", "user_not_found"),
        (f"/api/admin/users/{uuid.uuid4()}/enable", "user_not_found"),
        (f"/api/admin/sessions/{uuid.uuid4()}/revoke", "session_not_found"),
    ):
        missing = http.post(path)
        assert missing.status_code == 404 and missing.json()["code"] == code
    for path in ("/api/admin/users/nope/disable", "/api/admin/sessions/1/revoke"):
        bad = http.post(path)
        assert bad.status_code == 400 and bad.json()["code"] == "validation_error"


# -- licenses ------------------------------------------------------------------------------


def test_licenses_follow_versions(
    http: httpx.Client, admin_server: AuthServerProcess, smtp_sink: SmtpSink
) -> None:
    email = verified_user(http, smtp_sink)  # signed up with a teamspace trial
    session = login(http, email)
    org = session["organization"]["id"]
    assert session["licenses"]["teamspace"]["status"] == "trial"

    first = put_license(
        http, org, "teamspace", status="active", expiresAt="2027-01-31T00:00:00+02:00", version=3
    )
    assert first.status_code == 200, first.text
    assert first.json()["data"]["applied"] is True
    stored = first.json()["data"]["license"]
    assert stored["organizationId"] == org and stored["productCode"] == "teamspace"
    assert stored["status"] == "active" and stored["version"] == 3
    assert stored["expiresAt"] == "2027-01-30T22:00:00Z"  # stored and answered in UTC

    def licenses_seen() -> dict[str, Any]:
        me = http.get("/api/auth/me", headers=bearer(session["accessToken"]))
        found: dict[str, Any] = me.json()["data"]["licenses"]
        return found

    active = {"status": "active", "expiresAt": "2027-01-30T22:00:00Z"}
    assert licenses_seen() == {"teamspace": active}
    assert login(http, email)["licenses"] == {"teamspace": active}

    # The same update again (a retry): a no-op. An older one: ignored, the newer stands.
    retry = put_license(
        http, org, "teamspace", status="active", expiresAt="2027-01-30T22:00:00Z", version=3
    )
    assert retry.status_code == 200 and retry.json()["data"]["applied"] is False
    assert retry.json()["data"]["license"] == stored
    older = put_license(http, org, "teamspace", status="cancelled", expiresAt=None, version=2)
    assert older.status_code == 200 and older.json()["data"]["applied"] is False
    assert older.json()["data"]["license"]["status"] == "active"
    assert licenses_seen() == {"teamspace": active}
    # The same version with other content is a sender's bug: refused, nothing changed.
    clash = put_license(http, org, "teamspace", status="past_due", expiresAt=None, version=3)
    assert clash.status_code == 409 and clash.json()["code"] == "version_conflict"

    newer = put_license(http, org, "teamspace", status="cancelled", expiresAt=None, version=4)
    assert newer.json()["data"]["applied"] is True
    # A product the organization had no license of yet.
    created = put_license(http, org, "insurance", status="trial", expiresAt=None, version=1)
    assert created.json()["data"]["applied"] is True
    assert licenses_seen() == {
        "insurance": {"status": "trial", "expiresAt": None},
        "teamspace": {"status": "cancelled", "expiresAt": None},
    }
    audit = [
        e.details
        for e in audit_events(admin_server, "license_updated")
        if (e.details or {}).get("organization") == org
    ]
    assert [(d or {}).get("version") for d in audit] == [3, 4, 1]


def test_license_input_errors(http: httpx.Client, smtp_sink: SmtpSink) -> None:
    org = login(http, verified_user(http, smtp_sink))["organization"]["id"]
    good = {"status": "active", "expiresAt": None, "version": 1}
    missing = put_license(http, str(uuid.uuid4()), "teamspace", **good)
    assert missing.status_code == 404 and missing.json()["code"] == "organization_not_found"
    unknown = put_license(http, org, "minecraft", **good)
    assert unknown.status_code == 400 and unknown.json()["code"] == "unknown_product"
    for bad in (
        {**good, "status": "free"},
        {**good, "version": -1},
        {**good, "version": "2"},
        {**good, "version": 1.5},
        {**good, "version": 2**63},
        {"status": "active", "expiresAt": None},
        {**good, "expiresAt": "2027-01-31T00:00:00"},  # no time zone
        {**good, "expiresAt": "soon"},
    ):
        response = put_license(http, org, "teamspace", **bad)
        assert response.status_code == 400, bad
        assert response.json()["code"] == "validation_error"
    bad_org = put_license(http, "not-a-uuid", "teamspace", **good)
    assert bad_org.status_code == 400 and bad_org.json()["code"] == "validation_error"


def test_concurrent_license_updates_keep_the_highest_version(
    admin_server: AuthServerProcess, smtp_sink: SmtpSink
) -> None:
    """Twelve versions at once, in random order, on a license that does not exist yet (so
    they also race to create it): the highest version is what stays."""
    with httpx.Client(base_url=admin_server.base_url, timeout=30) as http:
        orgs = [login(http, verified_user(http, smtp_sink))["organization"]["id"] for _ in "ab"]

    def put(job: tuple[str, str, int]) -> int:
        org, product, version = job
        with httpx.Client(
            base_url=admin_server.base_url, timeout=60, headers=admin_server.service_headers()
        ) as own:
            body = {"status": "active", "expiresAt": f"2030-01-{version:02d}T00:00:00Z"}
            return put_license(own, org, product, **body, version=version).status_code

    for org in orgs:
        for product in ("saas-admin", "insurance"):
            versions = list(range(1, 13))
            random.shuffle(versions)
            with ThreadPoolExecutor(6) as pool:
                statuses = list(pool.map(put, [(org, product, v) for v in versions]))
            assert statuses == [200] * len(versions)
            with httpx.Client(
                base_url=admin_server.base_url, timeout=30, headers=admin_server.service_headers()
            ) as http:
                final = put_license(
                    http, org, product, status="active", expiresAt=None, version=0
                ).json()["data"]
            assert final["applied"] is False
            assert final["license"]["version"] == 12
            assert final["license"]["expiresAt"] == "2030-01-12T00:00:00Z"


@NEEDS_POSTGRES
def test_a_license_created_concurrently_does_not_hide_a_higher_version(
    admin_server: AuthServerProcess, smtp_sink: SmtpSink
) -> None:
    """The race between the compare-and-set (no row yet) and the read that follows it:
    another request creates the license with a lower version in between. The higher version
    must still win. The other request is injected at exactly that point (a fault)."""
    with httpx.Client(base_url=admin_server.base_url, timeout=30) as http:
        org = uuid.UUID(login(http, verified_user(http, smtp_sink))["organization"]["id"])
    settings = Settings(environment="test", redis_url="")
    clock = Clock(settings)
    revocations = Revocations(settings, clock, RevocationPublisher(settings))
    admin = Administration(settings, clock, revocations, AuditLog(clock))
    service = ClientInfo(user_agent="test", ip_address="127.0.0.1")
    engine = make_engine(admin_server.database_url)
    read_license = admin._license
    raced: list[LicenseChange] = []
    rival_started = threading.Event()

    def read_after_a_rival_created_it(db: Session, organization: Any, product: str) -> Any:
        if not rival_started.is_set():
            rival_started.set()  # once: the rival's own reads are not raced
            with Session(engine) as rival:
                low = LicenseUpdate(status="trial", expires_at=None, version=1)
                raced.append(admin.put_license(rival, organization, product, low, service))
        return read_license(db, organization, product)

    admin._license = read_after_a_rival_created_it  # type: ignore[method-assign,assignment]
    try:
        with Session(engine) as db:
            high = LicenseUpdate(status="active", expires_at=None, version=5)
            result = admin.put_license(db, org, "insurance", high, service)
    finally:
        engine.dispose()
    assert raced and raced[0].applied and raced[0].license.version == 1
    assert result.applied is True
    assert (result.license.version, result.license.status) == (5, "active")
