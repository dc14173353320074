"""Message catalogues: Accept-Language picks one, templates and code read their texts."""

from __future__ import annotations

from pathlib import Path

import jinja2
import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import write_po

from auth_server.i18n import CATALOGUES, Catalogues, parse_accept_language

TEMPLATE = "{% trans name=name %}Hello {{ name }}{% endtrans %}, {{ _('Sign in') }}"


@pytest.fixture
def catalogues(tmp_path: Path) -> Catalogues:
    """English (no entries) and a German catalogue, with one template that uses both texts."""
    for locale, texts in {
        "en": {},
        "de": {"Hello %(name)s": "Hallo %(name)s", "Sign in": "Anmelden"},
    }.items():
        catalog = Catalog(locale=locale)
        for message, translation in texts.items():
            catalog.add(message, translation)
        directory = tmp_path / locale / "LC_MESSAGES"
        directory.mkdir(parents=True)
        with (directory / "messages.po").open("wb") as po:
            write_po(po, catalog)
    return Catalogues(tmp_path, jinja2.DictLoader({"greeting.html": TEMPLATE}))


def test_accept_language_is_read_by_quality_then_order() -> None:
    assert parse_accept_language("fr;q=0.5, de-CH, en;q=0.8, *;q=0.1") == ["de-CH", "en", "fr"]
    assert parse_accept_language("de;q=0, en;q=bogus, it") == ["it"]
    assert parse_accept_language(None) == []


def test_the_preferred_language_we_have_is_chosen(catalogues: Catalogues) -> None:
    assert catalogues.locales == ("de", "en")
    assert catalogues.negotiate("fr, de-AT;q=0.9, en;q=0.5") == "de"
    assert catalogues.negotiate("fr, en;q=0.5, de;q=0.4") == "en"
    # Nothing we have, nothing at all, or garbage: the default, never an error.
    assert catalogues.negotiate("ja") == "en"
    assert catalogues.negotiate("") == "en"
    assert catalogues.negotiate(";;;,q=,\x00" * 100) == "en"


def test_templates_render_in_the_chosen_language_with_values_escaped(
    catalogues: Catalogues,
) -> None:
    assert catalogues.render("greeting.html", "de", name="Ana") == "Hallo Ana, Anmelden"
    assert catalogues.render("greeting.html", "en", name="<b>") == "Hello &lt;b&gt;, Sign in"
    # A locale without a catalogue falls back to the default's texts.
    assert catalogues.render("greeting.html", "ja", name="Ana") == "Hello Ana, Sign in"


def test_texts_outside_templates(catalogues: Catalogues) -> None:
    assert catalogues.gettext("de", "Hello %(name)s", name="Ana") == "Hallo Ana"
    assert catalogues.gettext("en", "Hello %(name)s", name="Ana") == "Hello Ana"


def test_the_shipped_catalogues_include_english() -> None:
    assert "en" in CATALOGUES.locales
    assert CATALOGUES.negotiate("en-GB,en;q=0.9") == "en"
