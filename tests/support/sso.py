"""The SaaS Admin signing in through the auth server, as deployed: an auth server over a fresh
database with its first admin (staff) and a movable clock, and the SaaS Admin, registered
as the auth server's OIDC client with the CLI, each a real process. Other clients (a product)
can be registered on `auth` before or after it starts."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.auth_process import AuthServerProcess
from tests.support.databases import temporary_database
from tests.support.lifecycle import TestClock
from tests.support.saas_process import SaasAdminProcess, saas_database, trusting


@dataclass
class Deployment:
    auth: AuthServerProcess
    saas: SaasAdminProcess
    clock: TestClock
    staff_email: str
    staff_password: str


@contextmanager
def sso_deployment(workdir: Path, smtp_port: int, **auth_settings: Any) -> Iterator[Deployment]:
    """Both services started and the SaaS Admin's single sign-on configured; `auth_settings`
    go to the auth server (e.g. `access_token_ttl`)."""
    clock = TestClock(workdir / "clock")
    with temporary_database(workdir) as auth_db, saas_database(workdir) as saas_db:
        auth = AuthServerProcess(
            auth_db,
            workdir / "auth",
            smtp_port=smtp_port,
            test_clock_file=clock.path,
            **auth_settings,
        ).migrate()
        email, password, staff_organization = auth.first_admin()
        saas = SaasAdminProcess(saas_db, log_dir=workdir, **trusting(auth, staff_organization))
        client = auth.register_client(
            "SaaS Admin", f"{saas.base_url}/admin/sso/callback/", f"{saas.base_url}/admin/login/"
        )
        saas.env["SAAS_ADMIN_OIDC_CLIENT_ID"] = client["clientId"]
        saas.env["SAAS_ADMIN_OIDC_CLIENT_SECRET"] = client["clientSecret"]
        try:
            auth.start()
            saas.migrate().start()
            yield Deployment(auth, saas, clock, email, password)
        finally:
            saas.stop()
            auth.stop()


def back_at(origin: str, path: str) -> re.Pattern[str]:
    """The post-logout redirect URI, with the `state` the provider hands back."""
    return re.compile(rf"^{re.escape(origin + path)}(\?state=[^&]+)?$")
