"""Texts in one place: Babel message catalogues, chosen by Accept-Language, for Jinja2.

Every text a person reads (hosted pages, e-mails) goes through gettext: templates use
`{% trans %}…{% endtrans %}` or `_("…")`. The catalogues are
`auth_server/locale/<locale>/LC_MESSAGES/messages.po`, compiled in memory the first time a
locale is used, so the tree holds no binary `.mo` file and needs no build step. English
ships; another language is one more `.po` file (`make messages` extracts and updates them).

One Jinja2 environment per locale, each with its translations installed: rendering never
swaps translations on a shared environment, so concurrent requests in different languages
cannot see each other's texts.
"""

from __future__ import annotations

import io
from functools import cached_property, lru_cache
from importlib import resources
from importlib.abc import Traversable
from typing import Any

import jinja2
from babel import Locale, UnknownLocaleError
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

DEFAULT_LOCALE = "en"
DOMAIN = "messages"
# An Accept-Language header longer than this is not a browser's: read no further.
_MAX_ACCEPT_LANGUAGE = 512


def parse_accept_language(header: str | None) -> list[str]:
    """The header's language tags, most preferred first (RFC 9110 quality values)."""
    weighted: list[tuple[float, int, str]] = []
    for position, item in enumerate((header or "")[:_MAX_ACCEPT_LANGUAGE].split(",")):
        tag, _, params = item.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        if tag and tag != "*" and quality > 0:
            weighted.append((-quality, position, tag.strip()))
    return [tag for _, _, tag in sorted(weighted)]


class Catalogues:
    """The message catalogues under one directory, and a template environment per locale."""

    def __init__(self, locale_dir: Traversable, templates: jinja2.BaseLoader) -> None:
        self.locale_dir = locale_dir
        self.templates = templates

    @cached_property
    def locales(self) -> tuple[str, ...]:
        """The locales that have a catalogue; the default is always one of them."""
        found = {
            entry.name
            for entry in self.locale_dir.iterdir()
            if entry.joinpath("LC_MESSAGES", f"{DOMAIN}.po").is_file()
        }
        return tuple(sorted(found | {DEFAULT_LOCALE}))

    def negotiate(self, accept_language: str | None) -> str:
        """The best locale we have for this Accept-Language header, else the default."""
        preferred = parse_accept_language(accept_language)
        try:
            best = Locale.negotiate(preferred, list(self.locales), sep="-")
        except (UnknownLocaleError, ValueError):
            best = None
        return str(best) if best is not None else DEFAULT_LOCALE

    def translations(self, locale: str) -> NullTranslations:
        return self._translations(locale if locale in self.locales else DEFAULT_LOCALE)

    @lru_cache(maxsize=32)  # noqa: B019 - one instance per process; the locale set is small
    def _translations(self, locale: str) -> NullTranslations:
        po = self.locale_dir.joinpath(locale, "LC_MESSAGES", f"{DOMAIN}.po")
        if not po.is_file():
            return NullTranslations()
        with po.open("rb") as source:
            catalog = read_po(source, locale=locale, domain=DOMAIN)
        compiled = io.BytesIO()
        write_mo(compiled, catalog)
        compiled.seek(0)
        return Translations(compiled, domain=DOMAIN)

    def environment(self, locale: str) -> jinja2.Environment:
        return self._environment(locale if locale in self.locales else DEFAULT_LOCALE)

    @lru_cache(maxsize=32)  # noqa: B019 - see _translations
    def _environment(self, locale: str) -> jinja2.Environment:
        environment = jinja2.Environment(
            loader=self.templates,
            # Every value is escaped in HTML templates: user input (names, e-mail
            # addresses) must never become markup. Plain-text mail parts are not HTML.
            autoescape=jinja2.select_autoescape(["html"]),
            extensions=["jinja2.ext.i18n"],
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        translations = self.translations(locale)
        environment.install_gettext_translations(translations, newstyle=True)  # type: ignore[attr-defined]
        environment.globals["locale"] = locale
        return environment

    def render(self, template: str, locale: str, **context: Any) -> str:
        return self.environment(locale).get_template(template).render(**context)

    def gettext(self, locale: str, message: str, **variables: Any) -> str:
        """One text outside a template (a flash message, an e-mail subject)."""
        text = self.translations(locale).gettext(message)
        return text % variables if variables else text


CATALOGUES = Catalogues(
    resources.files("auth_server").joinpath("locale"),
    jinja2.PackageLoader("auth_server", "templates"),
)


def N_(message: str) -> str:
    """Marks a text defined outside a template (an error's message, a notice) for the
    catalogues (`make messages`); it is translated where it is shown (Catalogues.gettext)."""
    return message
