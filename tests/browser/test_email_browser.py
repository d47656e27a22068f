from __future__ import annotations

import datetime
from typing import Any

import pytest
from djmoney.money import Money
from playwright.sync_api import expect

from communication.models import Event, OutgoingEmail
from communication.services import deliver, queue_email
from core.demo import DEMO_PASSWORD, load_demo
from patients.models import Patient

from ..test_outbox import _no_broker  # noqa: F401  (autouse: no worker here; we deliver)
from .conftest import login, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_admin_edits_the_dutch_invoice_email_and_sees_it_sent(page: Any, browser: Any,
                                                              live_server: Any) -> None:
    load_demo()
    patient = Patient.objects.create(first_name="Sanne", last_name="de Vries",
                                     email="sanne@example.org", language="nl")
    login(page, "admin", DEMO_PASSWORD)
    page.get_by_role("link", name="Instellingen").click()
    page.get_by_role("navigation", name="Instellingen").get_by_role(
        "link", name="E-mailtemplates").click()
    page.get_by_role("link", name="Productfactuur", exact=True).click()
    expect(page.get_by_role("link", name="Nederlands")).to_have_attribute("aria-current", "page")

    subject = page.get_by_label("Onderwerp")
    subject.fill("Uw pakketfactuur {{ invoice_number }}")
    expect(page.get_by_test_id("preview-subject")).to_have_text("Uw pakketfactuur 2026-00042")
    body = page.get_by_label("Tekst")
    body.fill("Beste {{ patient_first_name }},\n\nWelkom bij ")
    body.press("End")
    page.get_by_role("button", name="{{ package_name }}").click()
    expect(body).to_have_value("Beste {{ patient_first_name }},\n\nWelkom bij {{ package_name }}")
    preview = page.frame_locator("iframe.preview-frame")
    expect(preview.get_by_text("Welkom bij Fysio 10×")).to_be_visible()
    body.fill("Beste {{ patient.__dict__ }}")
    expect(page.locator("#email-preview")).to_contain_text("{{ patient.__dict__ }}")
    screenshot(page, "email-template-preview-refused")
    body.fill("Beste {{ patient_first_name }},\n\nIn de bijlage vindt u factuur "
              "**{{ invoice_number }}** voor {{ package_name }}.")
    expect(preview.get_by_text("Beste Sanne,")).to_be_visible()
    screenshot(page, "email-template-editor")
    page.get_by_role("button", name="Opslaan").click()
    expect(page.get_by_text("E-mailtemplate ‘Productfactuur’ is opgeslagen.")).to_be_visible()

    # Issuing an invoice queues its email (wired by the integrator; here the service).
    email = queue_email(
        event=Event.PRODUCT_INVOICE, to=patient.email, language=patient.language,
        patient=patient, idempotency_key="product_invoice:demo-1",
        context={"invoice_number": "2026-00001", "invoice_date": datetime.date(2026, 2, 2),
                 "invoice_total": Money("1200.00", "EUR"),
                 "due_date": datetime.date(2026, 2, 16), "iban": "NL91ABNA0417164300",
                 "payment_reference": "2026-00001", "package_name": "Fysio 10×",
                 "credits": 10},
    )
    assert email is not None
    page.get_by_role("navigation", name="Instellingen").get_by_role(
        "link", name="Verzonden e-mails").click()
    row = page.get_by_role("row", name="Uw pakketfactuur 2026-00001")
    expect(row).to_contain_text("In de wachtrij")
    assert deliver(email.pk) == "sent"  # what the worker does
    page.reload()
    expect(row).to_contain_text("Verzonden")
    screenshot(page, "sent-emails")
    row.get_by_role("link", name="Uw pakketfactuur 2026-00001", exact=True).click()
    expect(page.get_by_text(email.message_id)).to_be_visible()
    expect(page.locator("pre.plain")).to_contain_text("In de bijlage vindt u factuur 2026-00001")
    screenshot(page, "sent-email-detail")

    # The receptionist sees it on the patient's Emails tab.
    context = browser.new_context(base_url=live_server.url, locale="nl-NL")
    desk = context.new_page()
    login(desk, "balie", DEMO_PASSWORD)
    desk.goto(f"/patients/{patient.pk}/emails/")
    tab_row = desk.get_by_role("row", name="Uw pakketfactuur 2026-00001")
    expect(tab_row).to_contain_text("Verzonden")
    screenshot(desk, "patient-emails-tab")
    context.close()
    assert OutgoingEmail.objects.get().status == OutgoingEmail.Status.SENT
