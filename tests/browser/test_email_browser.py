from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from communication.models import OutgoingEmail
from communication.services import deliver
from core.demo import DEMO_PASSWORD, load_demo
from patients.models import Patient

from .conftest import login, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_admin_edits_the_dutch_invoice_email_and_sees_it_sent(
    page: Any, browser: Any, live_server: Any, quiet_broker: str,
) -> None:
    """No worker consumes the broker here: the test delivers the email itself."""
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

    # The receptionist issues an invoice: issuing queues its email in the same transaction.
    from django.contrib.auth.models import User

    from invoicing.invoices import LineData, create_draft, issue_invoice
    from invoicing.models import Product

    balie = User.objects.get(username="balie")
    product = Product.objects.get(code="FYS10")
    invoice = issue_invoice(create_draft(patient=patient, lines=[LineData(product, 1)], by=balie),
                            by=balie)
    email = OutgoingEmail.objects.get(idempotency_key=f"product_invoice:{invoice.pk}")
    sent_subject = f"Uw pakketfactuur {invoice.number}"
    page.get_by_role("navigation", name="Instellingen").get_by_role(
        "link", name="Verzonden e-mails").click()
    row = page.get_by_role("row", name=sent_subject)
    expect(row).to_contain_text("In de wachtrij")
    assert deliver(email.pk) == "sent"  # what the worker does
    page.reload()
    expect(row).to_contain_text("Verzonden")
    screenshot(page, "sent-emails")
    row.get_by_role("link", name=sent_subject, exact=True).click()
    expect(page.get_by_text(email.message_id)).to_be_visible()
    expect(page.locator("pre.plain")).to_contain_text(
        f"In de bijlage vindt u factuur {invoice.number}")
    screenshot(page, "sent-email-detail")

    # The receptionist sees it on the patient's Emails tab.
    context = browser.new_context(base_url=live_server.url, locale="nl-NL")
    desk = context.new_page()
    login(desk, "balie", DEMO_PASSWORD)
    desk.goto(f"/patients/{patient.pk}/emails/")
    tab_row = desk.get_by_role("row", name=sent_subject)
    expect(tab_row).to_contain_text("Verzonden")
    screenshot(desk, "patient-emails-tab")
    context.close()
    email.refresh_from_db()
    assert email.status == OutgoingEmail.Status.SENT
