"""The receptionist books with credits: the dialog shows the patient's credits drop, refuses
one more than the patient has, and a cancellation in time gives the credit back."""

from __future__ import annotations

import datetime
import re
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from core.demo import DEMO_PASSWORD, load_demo

from .conftest import login, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PATIENT = "Fatima El Amrani"  # the demo imports 5 credits in ‘Fysio 10×’ for her
TYPE = "Behandeling fysiotherapie (30 min)"


def follow(page: Any, link: Any) -> None:
    with page.expect_navigation():
        link.click()


def open_booking(page: Any, day: datetime.date, time: str) -> Any:
    page.locator(f'.col[data-day="{day}"] a.slot[data-time="{time}"]').click()
    dialog = page.locator("#cal-dialog")
    dialog.get_by_label("Patiënt").fill("amrani")
    dialog.get_by_label(PATIENT).check()
    dialog.get_by_label("Afspraaktype").select_option(label=TYPE)
    return dialog


def test_receptionist_books_with_credits_is_refused_and_gets_a_credit_back(page: Any) -> None:
    load_demo()
    today = timezone.localdate()
    tuesday = today + datetime.timedelta(days=7 - today.weekday() + 1)  # next week's
    login(page, "balie", DEMO_PASSWORD)
    follow(page, page.get_by_role("link", name="Agenda"))
    follow(page, page.get_by_role("link", name="Week", exact=True))
    follow(page, page.get_by_role("link", name="Volgende"))

    # The dialog shows her credits once the package type is chosen; book one.
    dialog = open_booking(page, tuesday, "10:00")
    credits = dialog.locator("[data-credits]")
    expect(credits).to_contain_text("5 credits beschikbaar · 0 gepland")
    expect(credits).to_contain_text("Na deze boeking: nog 4")
    screenshot(page, "credits-1-dialog")
    follow(page, dialog.get_by_role("button", name="Boeken"))
    page.get_by_text("Nog 4 credits in ‘Fysio 10×’.").wait_for()
    screenshot(page, "credits-2-booked")

    # Her available credits dropped: a weekly series of 5 is one more than she has.
    dialog = open_booking(page, tuesday, "11:00")
    expect(dialog.locator("[data-credits]")).to_contain_text("4 credits beschikbaar · 1 gepland")
    dialog.get_by_label("Aantal afspraken").fill("5")
    dialog.get_by_label("Aantal afspraken").blur()
    expect(dialog.locator("#book-refusal")).to_contain_text(
        "Onvoldoende credits: 4 beschikbaar in ‘Fysio 10×’, 5 nodig")
    expect(dialog.get_by_role("button", name="Boeken")).to_be_disabled()
    expect(dialog.get_by_role("link", name="Pakket verkopen")).to_have_attribute(
        "href", re.compile(r"/invoices/new/\?patient=\d+&package=\d+"))
    screenshot(page, "credits-3-refused")
    dialog.get_by_role("link", name="Annuleren").click()  # closes the dialog

    # Cancel the booked one in time: the credit comes back.
    page.locator(f'.col[data-day="{tuesday}"] .appt', has_text=PATIENT).click()
    dialog = page.locator("#cal-dialog")
    dialog.get_by_role("link", name="Afspraak afzeggen").click()
    dialog.get_by_label("De patiënt").check()
    dialog.get_by_label("Reden").fill("Ziek")
    follow(page, dialog.get_by_role("button", name="Afspraak afzeggen"))
    page.get_by_text("afgezegd.").wait_for()
    dialog = open_booking(page, tuesday, "11:00")
    expect(dialog.locator("[data-credits]")).to_contain_text("5 credits beschikbaar · 0 gepland")
    screenshot(page, "credits-4-credit-back")
