from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from core.roles import Role
from invoicing.models import CreditNote, Invoice
from tests import invoice_factories as make
from tests.conftest import PASSWORD, make_user

from .conftest import login, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_payment_releases_credits_and_admin_credits_two(page: Any, quiet_broker: str) -> None:
    make.practice()
    package = make.package()
    product = make.product("FYS10", "Fysio 10 behandelingen", "1200.00", package=package,
                           credits=10)
    receptionist = make_user("receptie", Role.RECEPTIONIST)
    make_user("beheerder", Role.ADMIN)
    draft = make.draft(make.patient("Sanne", "de Boer"), [(product, 1)], receptionist)

    login(page, "receptie", PASSWORD)
    page.goto(f"/invoices/{draft.pk}/")
    page.get_by_role("button", name="Factuur aanmaken").click()
    credits = page.locator(".lot-credits")
    expect(credits).to_contain_text("10 in afwachting van betaling")
    page.get_by_role("link", name="Betaling registreren").click()
    expect(page.get_by_label("Bedrag")).to_have_value("1200,00")
    page.get_by_label("Kenmerk").fill("PIN 0042")
    page.get_by_role("button", name="Betaling registreren").click()
    expect(page.get_by_text("Betaling van € 1.200,00 geregistreerd.")).to_be_visible()
    expect(credits).to_contain_text("10 beschikbaar")
    expect(page.locator("h1 .badge")).to_have_text("Betaald")
    assert Invoice.objects.get().status == Invoice.Status.PAID
    screenshot(page, "invoice-paid")

    page.get_by_role("button", name="Uitloggen").click()
    login(page, "beheerder", PASSWORD)
    page.goto(f"/invoices/{draft.pk}/")
    page.get_by_role("link", name="Crediteren").click()
    field = page.get_by_label("Fysio 10 behandelingen: te crediteren credits")
    expect(page.get_by_text("10 credits beschikbaar om te crediteren")).to_be_visible()
    field.fill("2")
    page.get_by_role("button", name="Creditnota aanmaken").click()
    note = CreditNote.objects.get()
    expect(page.get_by_text(f"Creditnota {note.number} is aangemaakt.")).to_be_visible()
    expect(credits).to_contain_text("8 beschikbaar")
    expect(page.get_by_text("Terug te betalen: € 240,00")).to_be_visible()
    screenshot(page, "invoice-credited-two")
