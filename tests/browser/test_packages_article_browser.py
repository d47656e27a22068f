"""The article, walked in a real browser: package, product, standard appointment, sellable.
Each step leaves a screenshot in var/test-output/article-*.png."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from core.demo import DEMO_PASSWORD, load_demo
from packages.models import Package

from .conftest import login, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PACKAGE = "Manuele therapie 10×"


def field(page: Any, label: str) -> Any:
    """The input labelled exactly `label` (a required field's label ends with an asterisk)."""
    return page.get_by_label(re.compile(rf"^{re.escape(label)}( \*)?$"))


def settings_menu(page: Any, item: str) -> None:
    page.get_by_role("navigation", name="Instellingen").get_by_role("link", name=item).click()


def test_admin_sets_up_a_sellable_package_as_the_article_says(page: Any) -> None:
    load_demo()
    login(page, "admin", DEMO_PASSWORD)

    # Gear → Invoices → Packages
    page.get_by_role("link", name="Instellingen").click()
    settings_menu(page, "Pakketten")
    expect(page.get_by_role("heading", name="Pakketten")).to_be_visible()
    screenshot(page, "article-01-packages")

    # + Add package, the starred fields, Save
    page.get_by_role("link", name="+ Pakket toevoegen").click()
    expect(page.get_by_text("Velden met een * zijn verplicht.")).to_be_visible()
    page.get_by_label("Naam").fill(PACKAGE)
    page.get_by_label("Intern tarief").fill("120,00")
    page.get_by_label("Grootboekrekening").select_option(label="8010 Omzet fysiotherapie")
    page.get_by_label("Balanspost").select_option(label="1920 Vooruitgefactureerde omzet")
    screenshot(page, "article-02-package-form")
    page.get_by_role("button", name="Opslaan").click()
    expect(page.get_by_text(f"Pakket ‘{PACKAGE}’ is opgeslagen en actief.")).to_be_visible()
    row = page.locator("tr", has_text=PACKAGE)
    expect(row).to_contain_text("Actief")
    expect(row).to_contain_text("€ 120,00")
    expect(row).to_contain_text("Niet verkoopbaar")
    screenshot(page, "article-03-package-active")

    # Edit it with the pencil
    row.get_by_title("Bewerken").click()
    expect(page.get_by_label("Intern tarief")).to_have_value("120,00")
    page.get_by_label("Intern tarief").fill("115")
    screenshot(page, "article-04-package-edit")
    page.get_by_role("button", name="Opslaan").click()
    expect(page.locator("tr", has_text=PACKAGE)).to_contain_text("€ 115,00")

    # Products → a new product linked to it: 10 credits at € 1200
    settings_menu(page, "Producten")
    page.get_by_role("link", name="+ Product toevoegen").click()
    page.get_by_label("Code").fill("MT10")
    page.get_by_label("Naam").fill(PACKAGE)
    field(page, "Prijs").fill("1200")
    field(page, "Pakket").select_option(label=PACKAGE)
    page.get_by_label("Aantal credits").fill("10")
    # Price per credit shows before saving, as the user types
    expect(page.locator("#live-credits_per_unit")).to_have_text("€ 120,00 per credit")
    screenshot(page, "article-05-product-price-per-credit")
    page.get_by_role("button", name="Opslaan").click()
    product_row = page.locator("tr", has_text="MT10")
    expect(product_row).to_contain_text("€ 1.200,00")
    expect(product_row).to_contain_text("€ 120,00")
    screenshot(page, "article-06-products")

    # Standard appointments → link the package at 1 credit
    settings_menu(page, "Standaard afspraken")
    page.get_by_role("link", name="+ Afspraaktype toevoegen").click()
    page.get_by_label("Naam").fill("Manuele therapie")
    page.get_by_label("Duur (minuten)").fill("30")
    field(page, "Pakket").select_option(label=PACKAGE)
    expect(page.get_by_label("Credits per afspraak")).to_have_value("1")
    expect(page.get_by_text("Wij adviseren één credit per afspraak.")).to_be_visible()
    screenshot(page, "article-07-appointment-type")
    page.get_by_role("button", name="Opslaan").click()
    expect(page.locator("tr", has_text="Manuele therapie").first).to_contain_text(PACKAGE)
    screenshot(page, "article-08-standard-appointments")

    # Back on Packages: sellable
    settings_menu(page, "Pakketten")
    row = page.locator("tr", has_text=PACKAGE)
    expect(row).to_contain_text("Verkoopbaar")
    expect(row).not_to_contain_text("Niet verkoopbaar")
    screenshot(page, "article-09-package-sellable")
    assert Package.objects.get(name=PACKAGE).is_active

    # The same hint the English way
    page.get_by_role("button", name="EN", exact=True).click()
    settings_menu_en = page.get_by_role("navigation", name="Settings")
    settings_menu_en.get_by_role("link", name="Products").click()
    page.get_by_role("link", name="+ Add product").click()
    field(page, "Price").fill("1200")
    page.get_by_label("Number of credits").fill("10")
    expect(page.locator("#live-credits_per_unit")).to_have_text("€120.00 per credit")
    screenshot(page, "article-10-product-english")
