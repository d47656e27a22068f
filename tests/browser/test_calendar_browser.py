"""The receptionist's day: find a patient, book a weekly series on the calendar, move one,
cancel one, and see the calendar and the patient's Appointments tab agree."""

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


def calendar_blocks(page: Any) -> dict[str, tuple[str, str]]:
    """Appointment id → (day, start time) as the calendar shows them."""
    blocks = page.locator(".col .appt")
    result = {}
    for i in range(blocks.count()):
        block = blocks.nth(i)
        day = block.locator("xpath=..").get_attribute("data-day")
        result[block.get_attribute("data-appointment")] = (day, block.locator(".appt-time")
                                                           .inner_text())
    return result


def follow(page: Any, link: Any) -> None:
    """Click and wait until the new page has loaded (and its scripts run)."""
    with page.expect_navigation():
        link.click()


def test_receptionist_books_moves_and_cancels_a_weekly_series(page: Any) -> None:
    load_demo()
    today = timezone.localdate()
    tuesday = today + datetime.timedelta(days=7 - today.weekday() + 1)  # next week's
    weeks = [tuesday + datetime.timedelta(weeks=i) for i in range(3)]
    login(page, "balie", DEMO_PASSWORD)

    # Find the patient by typing part of the name.
    follow(page, page.get_by_role("link", name="Patiënten"))
    page.get_by_label("Zoeken").fill("jans")
    rows = page.locator("#crud-table tbody tr")
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text("Jan Jansen")
    screenshot(page, "calendar-1-patient-found")

    # Book a weekly series of 3 by clicking an empty slot next week.
    follow(page, page.get_by_role("link", name="Agenda"))
    follow(page, page.get_by_role("link", name="Week", exact=True))
    follow(page, page.get_by_role("link", name="Volgende"))
    page.locator(f'.col[data-day="{weeks[0]}"] a.slot[data-time="10:00"]').click()
    dialog = page.locator("#cal-dialog")
    dialog.get_by_label("Patiënt").fill("jans")
    dialog.get_by_label("Jan Jansen").check()
    dialog.get_by_label("Afspraaktype").select_option(label="Losse behandeling (30 min)")
    dialog.get_by_label("Aantal afspraken").fill("3")
    screenshot(page, "calendar-2-booking-dialog")
    follow(page, dialog.get_by_role("button", name="Boeken"))
    page.get_by_text("3 wekelijkse afspraken gepland voor Jan Jansen").wait_for()
    first = calendar_blocks(page)
    assert list(first.values()) == [(str(weeks[0]), "10:00")]
    screenshot(page, "calendar-3-series-booked")

    # Reschedule the second: a week later, open it and give it another time.
    follow(page, page.get_by_role("link", name="Volgende"))
    page.locator(f'.col[data-day="{weeks[1]}"] .appt', has_text="Jan Jansen").click()
    dialog.get_by_role("link", name="Wijzigen of verzetten").click()
    dialog.get_by_label("Begintijd").fill("14:00")
    follow(page, dialog.get_by_role("button", name="Opslaan"))
    page.get_by_text("verzet naar").wait_for()
    second = calendar_blocks(page)
    assert list(second.values()) == [(str(weeks[1]), "14:00")]
    screenshot(page, "calendar-4-second-moved")

    # Cancel the third, for the patient, with a reason.
    follow(page, page.get_by_role("link", name="Volgende"))
    page.locator(f'.col[data-day="{weeks[2]}"] .appt', has_text="Jan Jansen").click()
    dialog.get_by_role("link", name="Afspraak afzeggen").click()
    dialog.get_by_label("De patiënt").check()
    dialog.get_by_label("Reden").fill("Op vakantie")
    screenshot(page, "calendar-5-cancel-dialog")
    follow(page, dialog.get_by_role("button", name="Afspraak afzeggen"))
    page.get_by_text("afgezegd.").wait_for()
    assert calendar_blocks(page) == {}  # cancelled ones are hidden by default
    follow(page, page.get_by_role("switch", name="Afgezegde tonen"))
    third = calendar_blocks(page)
    assert list(third.values()) == [(str(weeks[2]), "10:00")]
    assert "cancelled" in (page.locator(".appt").get_attribute("class") or "")
    screenshot(page, "calendar-6-third-cancelled")

    # The patient's Appointments tab says the same.
    follow(page, page.get_by_role("link", name="Patiënten"))
    page.get_by_label("Zoeken").fill("jans")
    expect(rows).to_have_count(1)
    follow(page, page.get_by_role("link", name="Jan Jansen", exact=True))
    follow(page, page.get_by_role("link", name="Afspraken"))
    shown = {}
    for row in page.locator("tr[data-appointment]").all():
        cells = row.locator("td")
        href = cells.nth(0).locator("a").get_attribute("href") or ""
        day = re.search(r"date=(\d{4}-\d\d-\d\d)", href)
        shown[row.get_attribute("data-appointment")] = (
            day.group(1) if day else "", cells.nth(1).inner_text()[:5],
            cells.nth(4).locator(".status").inner_text())
    screenshot(page, "calendar-7-patient-appointments")
    expected = {
        pk: (day, time, status)
        for blocks, status in ((first, "Gepland"), (second, "Gepland"), (third, "Afgezegd"))
        for pk, (day, time) in blocks.items()
    }
    assert {k: v for k, v in shown.items() if k in expected} == expected
    assert "Op vakantie" in page.locator("tr.cancelled").inner_text()
