"""Every page of the SaaS Admin, opened in Chromium: the API docs, the admin site's login,
and, logged in as staff, its index and every changelist and add page it links to. Nothing
may come from another origin, and no console error may occur."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from tests.browser.tabs import NEEDS_BROWSER, Tab
from tests.support.auth_process import AuthServerProcess
from tests.support.saas_process import SaasAdminProcess, saas_database, trusting

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

# The admin index links each model's changelist and, where adding is allowed, its add page.
MODEL_PAGE = re.compile(r"^/admin/\w+/\w+/(add/)?$")


@pytest.fixture(scope="module")
def bootstrap(auth_server: AuthServerProcess) -> tuple[str, str, str]:
    """The auth server's first admin (e-mail, password) and the staff organization's id."""
    return auth_server.first_admin()


@pytest.fixture(scope="module")
def saas_admin(
    auth_server: AuthServerProcess,
    bootstrap: tuple[str, str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[SaasAdminProcess]:
    workdir = tmp_path_factory.mktemp("saas-pages")
    with saas_database(workdir) as database_url:
        process = SaasAdminProcess(
            database_url, log_dir=workdir, **trusting(auth_server, bootstrap[2])
        ).migrate()
        try:
            yield process.start()
        finally:
            process.stop()


@pytest.fixture
def tab(browser: Browser, saas_admin: SaasAdminProcess) -> Iterator[Tab]:
    tab = Tab(browser, saas_admin.base_url, "saas")
    yield tab
    tab.close()


@pytest.fixture(scope="module")
def staff(bootstrap: tuple[str, str, str]) -> tuple[str, str]:
    """The auth server's first admin: an owner of the staff organization."""
    return bootstrap[0], bootstrap[1]


@NEEDS_BROWSER
def test_api_docs_render_offline(tab: Tab) -> None:
    page = tab.visit("/api/docs/")
    operations = page.locator(".opblock-summary-path")
    operations.first.wait_for()
    assert "/api/organizations" in operations.all_inner_texts()
    tab.screenshot("api-docs-rendered")
    tab.assert_clean()


@NEEDS_BROWSER
def test_login_page_asks_for_the_email(tab: Tab) -> None:
    page = tab.visit("/admin/login/")
    assert page.locator("label[for=id_username]").inner_text() == "E-mail:"


def log_in(tab: Tab, staff: tuple[str, str]) -> Page:
    page = tab.open("/admin/login/?next=/admin/")
    page.fill("#id_username", staff[0])
    page.fill("#id_password", staff[1])
    with page.expect_navigation(wait_until="networkidle"):
        page.click("input[type=submit]")
    assert page.locator("#site-name").inner_text() == "Rozitech SaaS Admin"
    return page


@NEEDS_BROWSER
def test_every_admin_page_as_staff(tab: Tab, staff: tuple[str, str]) -> None:
    page = log_in(tab, staff)
    tab.visit("/admin/")
    links = page.eval_on_selector_all("#content-main a", "links => links.map(a => a.pathname)")
    model_pages = sorted({link for link in links if MODEL_PAGE.match(link)})
    # Changelists and add pages of the accounts, organizations and billing models at least.
    assert any(p.endswith("/add/") for p in model_pages) and len(model_pages) >= 6, model_pages
    for path in model_pages:
        tab.visit(path)
        assert page.locator("#content h1").count() == 1, path


@NEEDS_BROWSER
def test_every_browsable_api_page_as_staff(tab: Tab, staff: tuple[str, str]) -> None:
    # DRF's browsable API answers a browser with an HTML page for each GET endpoint.
    log_in(tab, staff)
    schema = tab.context.request.get("/api/schema/", headers={"Accept": "application/json"})
    organizations = tab.context.request.get("/api/organizations?format=json").json()
    organization_id = organizations["results"][0]["id"]
    paths = [
        path
        for path, operations in schema.json()["paths"].items()
        # The subscription check is asked by other products, with their own parameters.
        if "get" in operations and path != "/api/subscriptions/check"
    ]
    assert len(paths) >= 7, paths
    for path in paths:
        page = tab.visit(path.replace("{organization_id}", organization_id), label=path)
        assert page.locator(".response-info").count() == 1, path
