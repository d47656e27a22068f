from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from core.roles import Role
from invoicing.models import Invoice
from tests import invoice_factories as make
from tests.conftest import PASSWORD, make_user

from .conftest import login, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_receptionist_makes_issues_and_opens_a_product_invoice(page: Any,
                                                                pdf_worker: Any) -> None:
    make.practice()
    package = make.package()
    make.product("FYS10", "Fysio 10 behandelingen", "1200.00", package=package, credits=10)
    make.product("FIT", "Fysiofitness maand", "60.50", vat="21")
    make.patient("Sanne", "de Boer")
    make_user("receptie", Role.RECEPTIONIST)
    login(page, "receptie", PASSWORD)

    page.get_by_role("navigation", name="Hoofdmenu").get_by_role("link", name="Facturen").click()
    page.get_by_role("link", name="+ Productfactuur").click()
    page.get_by_placeholder("Zoek op naam of postcode…").fill("boer")
    page.get_by_label("Sanne de Boer").check()

    total, vat = page.locator("#invoice-total"), page.locator('[data-vat="21"]')
    page.get_by_label("Product regel 1").fill("FIT")
    page.get_by_label("Aantal regel 1").fill("3")
    expect_text(total, "€ 181,50")
    expect_text(vat, "€ 31,50")  # 21 % of a VAT-inclusive 181,50
    page.get_by_label("Aantal regel 1").fill("2")  # typing again: both follow
    expect_text(total, "€ 121,00")
    expect_text(vat, "€ 21,00")

    page.get_by_role("button", name="+ Regel toevoegen").click()
    page.get_by_label("Product regel 2").fill("FYS10 — Fysio 10 behandelingen")
    page.get_by_label("Korting regel 2").fill("10")
    expect_text(total, "€ 1.201,00")
    expect_text(page.locator("#line-1-amount"), "€ 1.080,00")
    screenshot(page, "invoice-form-totals")

    page.get_by_role("button", name="Factuur aanmaken").click()
    invoice = Invoice.objects.get()
    assert page.get_by_text(f"Factuur {invoice.number} is aangemaakt.").is_visible()
    download_link = page.get_by_role("link", name="Pdf downloaden")
    download_link.wait_for(timeout=20_000)  # the worker made it; the page noticed by itself
    assert page.locator("iframe.pdf-view").get_attribute("src") == f"/invoices/{invoice.pk}/pdf/"
    inline = page.request.get(f"/invoices/{invoice.pk}/pdf/")
    assert inline.headers["content-type"] == "application/pdf"
    screenshot(page, "invoice-issued-pdf")

    with page.expect_download() as info:
        download_link.click()
    path = Path(info.value.path())
    text = PdfReader(path).pages[0].extract_text()
    assert invoice.number in text and "Sanne de Boer" in text and "€ 1.201,00" in text
    assert info.value.suggested_filename == f"{invoice.number}.pdf"

    page.get_by_role("link", name="Alle facturen").click()
    row = page.locator("tbody tr", has_text=invoice.number)
    assert "Sanne de Boer" in row.inner_text() and "Openstaand" in row.inner_text()
    screenshot(page, "invoice-list")


def expect_text(locator: Any, text: str) -> None:
    from playwright.sync_api import expect

    expect(locator).to_have_text(re.compile(re.escape(text)), timeout=5_000)
