"""Command line: `python -m auth_server {migrate,create-admin,serve,run}`."""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import sys

import uvicorn

from auth_server import migrate
from auth_server.config import ConfigurationError, Settings, get_settings
from auth_server.errors import ValidationFailed
from auth_server.services import Services


def _admin_password(settings: Settings) -> tuple[str, bool]:
    """The configured admin password, or a generated one (and whether it was generated)."""
    configured = settings.admin_password.get_secret_value()
    if configured:
        return configured, False
    return secrets.token_urlsafe(18), True


def _remembered_password_file(settings: Settings) -> str:
    return str(settings.data_dir / "admin-password.txt")


def create_admin(settings: Settings) -> None:
    services = Services.build(settings)
    password, generated = _admin_password(settings)
    remembered = _remembered_password_file(settings)
    with services.database.session_factory() as db:
        created = services.accounts.ensure_admin(db, password)
    services.database.dispose()
    if created and generated and not settings.is_production:
        # Development only: kept (0600) so the next `make run` can show it again.
        fd = os.open(remembered, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(password)
    if created:
        print(f"Admin account: {settings.admin_email}  password: {password}")
    elif not generated:
        print(f"Admin account: {settings.admin_email}  password: (ADMIN_PASSWORD)")
    elif os.path.exists(remembered) and not settings.is_production:
        with open(remembered) as handle:
            print(f"Admin account: {settings.admin_email}  password: {handle.read().strip()}")
    else:
        print(f"Admin account: {settings.admin_email} (exists; password as first printed)")


def serve(settings: Settings, workers: int) -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    uvicorn.run(
        "auth_server.app:create_app",
        factory=True,
        host=settings.auth_server_host,
        port=settings.auth_server_port,
        workers=workers,
        proxy_headers=False,
        log_level="info",
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m auth_server")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="apply database migrations")
    commands.add_parser("create-admin", help="create the first admin if missing; print it")
    for name, text in (("serve", "start the HTTP server"), ("run", "migrate, admin, serve")):
        sub = commands.add_parser(name, help=text)
        sub.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)

    settings = get_settings()
    try:
        settings.check_production_ready()
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        if args.command in ("migrate", "run"):
            migrate.upgrade(settings.auth_database_url)
        if args.command in ("create-admin", "run"):
            create_admin(settings)
        if args.command in ("serve", "run"):
            print(f"Auth server: {settings.auth_public_url}  (Swagger UI at /api-docs)")
            serve(settings, args.workers)
    except (ConfigurationError, ValidationFailed) as exc:
        detail = f" {exc.errors}" if isinstance(exc, ValidationFailed) else ""
        print(f"error: {exc}{detail}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
