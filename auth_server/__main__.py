"""Command line: `python -m auth_server <command>`; `--help` lists them."""

from __future__ import annotations

import argparse
import json
import logging.config
import os
import secrets
import shutil
import sys
import uuid
from datetime import UTC, datetime, timedelta

import uvicorn
from sqlalchemy import select

from auth_server import logs, migrate
from auth_server.accounts import normalize_email
from auth_server.audit import read_events
from auth_server.config import ConfigurationError, Settings, get_settings
from auth_server.errors import AuthError, ValidationFailed
from auth_server.http_server import BoundedH11Protocol
from auth_server.keys import activate_key, rotate_keys, stage_key
from auth_server.models import AuditEvent, User
from auth_server.oidc import cli as oidc_cli
from auth_server.purge import purge
from auth_server.service_auth import SERVICE_TOKEN_HEADER, ServiceCredentials
from auth_server.services import Services


def _admin_password(settings: Settings) -> tuple[str, bool]:
    """The configured admin password, or a generated one (and whether it was generated)."""
    configured = settings.admin_password.get_secret_value()
    if configured:
        return configured, False
    return secrets.token_urlsafe(18), True


def _remembered_password_file(settings: Settings) -> str:
    return str(settings.data_dir / "admin-password.txt")


def _staff_organization_file(settings: Settings) -> str:
    return str(settings.data_dir / "staff-organization")


def create_admin(settings: Settings) -> None:
    services = Services.build(settings)
    password, generated = _admin_password(settings)
    remembered = _remembered_password_file(settings)
    with services.database.session_factory() as db:
        bootstrap = services.accounts.ensure_admin(db, password)
    services.database.dispose()
    created = bootstrap.created
    # The SaaS Admin's staff organization, by id (never by slug, which sign-ups choose):
    # read from this file by a SaaS Admin sharing DATA_DIR, else set as
    # SAAS_ADMIN_STAFF_ORGANIZATION_ID from the line printed below.
    fd = os.open(_staff_organization_file(settings), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(str(bootstrap.organization_id))
    if created and generated and not settings.is_production:
        # Development only: kept (0600) so the next `make run` can show it again.
        fd = os.open(remembered, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(password)
    if not generated:
        # The operator's own password is never echoed to a terminal or a log.
        print(f"Admin account: {settings.admin_email}  password: (ADMIN_PASSWORD)")
    elif created:
        print(f"Admin account: {settings.admin_email}  password: {password}")
    elif os.path.exists(remembered) and not settings.is_production:
        with open(remembered) as handle:
            print(f"Admin account: {settings.admin_email}  password: {handle.read().strip()}")
    else:
        print(f"Admin account: {settings.admin_email} (exists; password as first printed)")
    print(f"Staff organization (SAAS_ADMIN_STAFF_ORGANIZATION_ID): {bootstrap.organization_id}")


def _shared_metrics_dir(settings: Settings, workers: int, port: int) -> None:
    """Several workers: their metrics go to one folder that a scrape of any of them reads
    (prometheus_client's multiprocess mode), emptied at start so no dead process counts."""
    if workers < 2 or os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return  # one process, or the operator's own folder (theirs to empty)
    folder = settings.data_dir / f"metrics-{port}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    # Read by prometheus_client when the workers (spawned after this) import it.
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)


def serve(settings: Settings, workers: int, host: str | None, port: int | None) -> None:
    _shared_metrics_dir(settings, workers, port or settings.auth_server_port)
    uvicorn.run(
        "auth_server.app:create_app",
        factory=True,
        # Flags win over AUTH_SERVER_HOST/PORT: two replicas on one host share one .env.
        host=host or settings.auth_server_host,
        port=port or settings.auth_server_port,
        workers=workers,
        proxy_headers=False,
        log_level=settings.log_level,
        log_config=logs.log_config(settings.log_format or "console", settings.log_level),
        # One line per request comes from the application (api/request_log.py).
        access_log=False,
        # h11, not httptools: it bounds the request head (see http_server.py).
        http=BoundedH11Protocol,
        h11_max_incomplete_event_size=settings.max_header_bytes,
    )


def rotate_keys_command(settings: Settings, args: argparse.Namespace) -> None:
    if args.stage:
        stage_keys_command(settings)
    elif args.activate:
        activate_key_command(settings, args.activate)
    else:
        rotation = rotate_keys(settings)
        _audit_key_event(settings, "key_rotated", rotation.old_kid, rotation.new_kid)
        print(f"New signing key: {rotation.new_kid}  (previous: {rotation.old_kid})")
        print(
            f"Running servers sign with it within a second; {rotation.old_kid} "
            f"stays in the JWKS for {settings.access_token_ttl + 60} s, until its last "
            "token has expired."
        )


def stage_keys_command(settings: Settings) -> None:
    staged = stage_key(settings)
    _audit_key_event(settings, "key_staged", None, staged.kid)
    print(
        f"Staged signing key: {staged.kid} (published, not signing yet).\n\n"
        "1. On every replica append this public key to JWT_NEXT_PUBLIC_KEYS and roll it out:\n"
    )
    print(staged.public_pem)
    print(
        "2. Keep this private key in your secret store (nowhere else). Once every replica "
        "publishes the key and verifiers' JWKS caches have expired, run "
        "`rotate-keys --activate FILE` with it:\n"
    )
    print(staged.private_pem)


def activate_key_command(settings: Settings, path: str) -> None:
    with open(path, "rb") as handle:
        rotation = activate_key(settings, handle.read())
    _audit_key_event(settings, "key_rotated", rotation.old_kid, rotation.new_kid)
    print(
        f"Activating {rotation.new_kid} (previous: {rotation.old_kid}). On every replica: "
        "set JWT_PRIVATE_KEY to the staged private key, remove its public key from "
        "JWT_NEXT_PUBLIC_KEYS, and append the old public key below to "
        "JWT_PREVIOUS_PUBLIC_KEYS; remove it from there once "
        f"{settings.access_token_ttl + 60} s have passed after the last replica switched.\n"
    )
    assert rotation.old_public_pem is not None
    print(rotation.old_public_pem)


def _audit_key_event(settings: Settings, event: str, old_kid: str | None, new_kid: str) -> None:
    services = Services.build(settings)
    with services.database.session_factory() as db:
        services.audit.record(db, event, details={"old_kid": old_kid, "new_kid": new_kid})
    services.database.dispose()


def purge_command(settings: Settings) -> None:
    services = Services.build(settings)
    with services.database.session_factory() as db:
        counts = purge(db, settings, services.clock, services.outbox)
    services.database.dispose()
    print("Purged: " + ", ".join(f"{name} {count}" for name, count in counts.items()))


def mail_worker_command(settings: Settings) -> None:
    """Delivers the mail outbox until SIGTERM/SIGINT (mail_delivery.py)."""
    logs.configure_structlog()
    logging.config.dictConfig(logs.log_config(settings.log_format or "console", settings.log_level))
    services = Services.build(settings)
    try:
        services.mail_delivery.run_until_signalled()
    finally:
        services.database.dispose()


def service_token_command(settings: Settings) -> None:
    """Prints the credential trusted services send (development: generated on first use)."""
    if settings.is_production:
        # The operator set it; a production secret is not echoed to a terminal or a log.
        print(f"Service token: the value of SERVICE_TOKEN (header {SERVICE_TOKEN_HEADER})")
        return
    print(ServiceCredentials.from_settings(settings).primary)


def _announce_service_token(settings: Settings) -> None:
    if settings.is_production:
        return
    token = ServiceCredentials.from_settings(settings).primary
    where = "SERVICE_TOKEN" if settings.service_tokens else str(settings.service_token_file)
    # Development only, like the generated admin password: what the SaaS Admin must send.
    print(f"Service token ({SERVICE_TOKEN_HEADER}, from {where}): {token}")


def _when(value: str) -> datetime:
    """ISO 8601 (naive = UTC), or a span back from now: 30m, 12h, 7d."""
    units = {"m": "minutes", "h": "hours", "d": "days"}
    if value[:-1].isdigit() and value[-1:] in units:
        return datetime.now(UTC) - timedelta(**{units[value[-1]]: int(value[:-1])})
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a time: {value!r}") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _event_json(event: AuditEvent) -> dict[str, object]:
    return {
        "time": event.created_at.isoformat(),
        "event": event.event,
        "outcome": event.outcome,
        "userId": str(event.user_id) if event.user_id else None,
        "email": event.email,
        "ip": event.ip_address,
        "userAgent": event.user_agent,
        "details": event.details or {},
        "requestId": event.request_id,
    }


def audit_command(settings: Settings, args: argparse.Namespace) -> None:
    services = Services.build(settings)
    with services.database.session_factory() as db:
        user_id: uuid.UUID | None = None
        email: str | None = None
        if args.user:
            try:
                user_id = uuid.UUID(args.user)
            except ValueError:
                email = normalize_email(args.user)
                user_id = db.scalar(select(User.id).where(User.email == email))
                if user_id is not None:
                    email = None  # the account's events, whatever address they name
        events = read_events(
            db,
            user_id=user_id,
            email=email,
            event=args.event,
            since=args.since,
            until=args.until,
            limit=args.limit,
        )
    services.database.dispose()
    for event in events:
        if args.json:
            print(json.dumps(_event_json(event)))
            continue
        details = " ".join(f"{k}={v}" for k, v in (event.details or {}).items())
        print(
            f"{event.created_at.isoformat(timespec='seconds')} {event.event:<26} "
            f"{event.outcome:<13} user={event.user_id or '-'} email={event.email or '-'} "
            f"ip={event.ip_address or '-'} {details}".rstrip()
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m auth_server")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="apply database migrations")
    commands.add_parser("create-admin", help="create the first admin if missing; print it")
    commands.add_parser(
        "bootstrap",
        help="migrate, then create-admin: idempotent, for every deploy (the release step)",
    )
    for name, text in (("serve", "start the HTTP server"), ("run", "migrate, admin, serve")):
        sub = commands.add_parser(name, help=text)
        sub.add_argument("--workers", type=int, default=1)
        sub.add_argument("--host", help="listen address (default AUTH_SERVER_HOST)")
        sub.add_argument("--port", type=int, help="listen port (default AUTH_SERVER_PORT)")
    rotate = commands.add_parser(
        "rotate-keys", help="make a new signing key; the old one verifies until its tokens expire"
    )
    step = rotate.add_mutually_exclusive_group()
    step.add_argument(
        "--stage",
        action="store_true",
        help="JWT_PRIVATE_KEY: make the next key, to publish (JWT_NEXT_PUBLIC_KEYS) first",
    )
    step.add_argument(
        "--activate",
        metavar="FILE",
        help="JWT_PRIVATE_KEY: check that the staged key in FILE is published; what to deploy",
    )
    commands.add_parser(
        "purge",
        help="delete expired sessions, codes, reset tokens, locks, revocation events, old mail",
    )
    commands.add_parser(
        "mail-worker",
        help="deliver the mail outbox with retries until SIGTERM (beside MAIL_DELIVERY=worker)",
    )
    commands.add_parser(
        "service-token",
        help="print the service token (development: generated into DATA_DIR/service-token)",
    )
    audit = commands.add_parser("audit", help="print audit events, oldest first")
    audit.add_argument("--user", help="user id or e-mail address")
    audit.add_argument("--event", help="only this event, e.g. login_failed")
    audit.add_argument("--since", type=_when, help="ISO 8601 time (UTC) or 30m / 12h / 7d ago")
    audit.add_argument("--until", type=_when, help="ISO 8601 time (UTC) or 30m / 12h / 7d ago")
    audit.add_argument("--limit", type=int, default=100, help="the last N events (default 100)")
    audit.add_argument("--json", action="store_true", help="one JSON object per line")
    oidc_cli.add_parser(commands)
    args = parser.parse_args(argv)

    settings = get_settings()
    try:
        settings.check_production_ready()
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        if args.command in ("migrate", "bootstrap", "run"):
            migrate.upgrade(settings.auth_database_url)
        if args.command in ("create-admin", "bootstrap", "run"):
            create_admin(settings)
        if args.command == "rotate-keys":
            rotate_keys_command(settings, args)
        if args.command == "purge":
            purge_command(settings)
        if args.command == "audit":
            audit_command(settings, args)
        if args.command == "mail-worker":
            mail_worker_command(settings)
        if args.command == "service-token":
            service_token_command(settings)
        if args.command == "clients":
            oidc_cli.run(settings, args)
        if args.command == "run":
            _announce_service_token(settings)
        if args.command in ("serve", "run"):
            docs = "  (Swagger UI at /api-docs)" if settings.api_docs else ""
            print(f"Auth server: {settings.auth_public_url}{docs}")
            serve(settings, args.workers, args.host, args.port)
    except (ConfigurationError, AuthError) as exc:
        detail = f" {exc.errors}" if isinstance(exc, ValidationFailed) else ""
        print(f"error: {exc}{detail}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
