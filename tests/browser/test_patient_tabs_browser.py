"""A long appointment history in the browser: the Past list pages in place with HTMX (the
tab stays selected, the upcoming list stays), and pages by plain links without JavaScript."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import expect

from core.demo import DEMO_PASSWORD, load_demo
from scheduling.models import AppointmentType

from ..scheduling_factories import at, book, patient
from .conftest import login, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_past_appointments_page_with_and_without_htmx(
    page: Any, browser: Any, live_server: Any
) -> None:
    load_demo()
    desk, therapist = User.objects.get(username="balie"), User.objects.get(username="therapeut")
    who, kind = patient("Jan", "Jansen"), AppointmentType.objects.filter(package=None).first()
    book(practitioner=therapist, start=at("2020-01-06", "07:00"), who=who, weeks=30, by=desk,
         kind=kind)
    book(practitioner=therapist, start=at("2030-03-04", "07:00"), who=who, by=desk, kind=kind)
    login(page, "balie", DEMO_PASSWORD)
    page.goto(f"/patients/{who.pk}/appointments/")
    past = page.locator("#past-appointments")
    rows = past.locator("tr[data-appointment]")
    expect(rows).to_have_count(25)
    expect(past).to_contain_text("Pagina 1 van 2 · 30 in totaal")
    expect(rows.first).to_contain_text("27 jul. 2020")
    past.get_by_role("link", name="Volgende ›").click()
    expect(past).to_contain_text("Pagina 2 van 2 · 30 in totaal")
    expect(rows).to_have_count(5)
    expect(rows.last).to_contain_text("6 jan. 2020")
    assert page.url.endswith(f"/patients/{who.pk}/appointments/")  # swapped in place
    expect(page.locator("#upcoming-appointments tr[data-appointment]")).to_have_count(1)
    expect(page.get_by_role("link", name="Afspraken")).to_have_attribute("aria-current", "page")
    expect(page.locator("h1")).to_have_count(1)  # not a page inside the page
    screenshot(page, "patient-appointments-page-2")

    plain = browser.new_context(base_url=live_server.url, locale="nl-NL",
                                java_script_enabled=False)
    bare = plain.new_page()
    login(bare, "balie", DEMO_PASSWORD)
    bare.goto(f"/patients/{who.pk}/appointments/")
    bare.locator("#past-appointments").get_by_role("link", name="Volgende ›").click()
    bare.wait_for_url(f"**/patients/{who.pk}/appointments/?past_page=2")
    expect(bare.locator("#past-appointments tr[data-appointment]")).to_have_count(5)
    expect(bare.get_by_role("link", name="Afspraken")).to_have_attribute("aria-current", "page")
    plain.close()
