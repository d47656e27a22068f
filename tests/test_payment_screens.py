"""The invoice page's payments, reversal, credit note and refund screens, as users see them."""

from __future__ import annotations

import uuid

import pytest
from django.test import Client
from django.urls import reverse
from djmoney.money import Money

from invoicing.invoices import issue_invoice
from invoicing.models import CreditNote, Invoice, Payment
from packages import ledger

from . import invoice_factories as make
from . import ledger_helpers as lh

pytestmark = pytest.mark.django_db


@pytest.fixture
def invoice(admin) -> Invoice:
    make.practice()
    package = make.package()
    product = make.product(package=package, credits=10)
    return issue_invoice(make.draft(make.patient(), [(product, 1)], admin), by=admin)


def page(client: Client, invoice: Invoice) -> str:
    response = client.get(reverse("invoice-detail", args=[invoice.pk]))
    assert response.status_code == 200
    return response.content.decode()


def register(client: Client, invoice: Invoice, amount: str) -> None:
    response = client.post(reverse("payment-new", args=[invoice.pk]), {
        "amount": amount, "paid_on": "2026-12-01", "method": "pin", "reference": "T1",
        "request_key": str(uuid.uuid4())})
    assert response.status_code == 302, response.content.decode()


def test_receptionist_registers_partial_and_over_payment(receptionist_client, invoice) -> None:
    assert "10 in afwachting van betaling" in page(receptionist_client, invoice)
    register(receptionist_client, invoice, "1.000,00")
    html = page(receptionist_client, invoice)
    assert "€ 200,00" in html and "Betaling registreren" in html
    register(receptionist_client, invoice, "210,00")
    html = page(receptionist_client, invoice)
    assert "€ 10,00 te veel betaald" in html
    assert "10 beschikbaar" in html
    assert "Betaald" in html
    # The receptionist may not credit.
    assert "Crediteren" not in html
    assert receptionist_client.get(reverse("credit-note-new", args=[invoice.pk])
                                   ).status_code == 403


def test_double_submit_registers_one_payment(receptionist_client, invoice) -> None:
    data = {"amount": "100", "paid_on": "2026-12-01", "method": "cash", "reference": "",
            "request_key": str(uuid.uuid4())}
    for _ in range(2):
        receptionist_client.post(reverse("payment-new", args=[invoice.pk]), data)
    assert Payment.objects.count() == 1


def test_reversal_shows_package_unpaid(admin, receptionist_client, invoice) -> None:
    register(receptionist_client, invoice, "1200")
    visit = lh.appointment(invoice.patient, invoice.lines.get().package)
    ledger.reserve(visit, credits=1, package=visit.type.package, key="b", by=admin)
    payment = Payment.objects.get()
    url = reverse("payment-reverse", args=[payment.pk])
    response = receptionist_client.post(url, {"reason": ""})
    assert response.status_code == 200 and "verplicht" in response.content.decode()
    assert receptionist_client.post(url, {"reason": "Storno"}).status_code == 302
    html = page(receptionist_client, invoice)
    assert "Pakket onbetaald" in html
    assert "9 in afwachting van betaling" in html and "1 gepland" in html


def test_admin_credits_two_and_eight_remain(admin_client, invoice, admin) -> None:
    register(admin_client, invoice, "1200")
    url = reverse("credit-note-new", args=[invoice.pk])
    form = admin_client.get(url).content.decode()
    assert "10 credits beschikbaar om te crediteren" in form
    line = invoice.lines.get()
    refused = admin_client.post(url, {f"line_{line.pk}": "11", "reason": ""})
    assert refused.status_code == 200 and not CreditNote.objects.exists()
    assert admin_client.post(url, {f"line_{line.pk}": "2", "reason": "Verhuisd"}
                             ).status_code == 302
    html = page(admin_client, invoice)
    assert "8 beschikbaar" in html
    note = CreditNote.objects.get()
    assert note.total == Money("-240.00", "EUR") and note.number in html
    assert "Terug te betalen: € 240,00" in html
    pdf = admin_client.get(reverse("credit-note-pdf", args=[note.pk]))
    assert pdf.status_code == 200 and b"".join(pdf.streaming_content)[:5] == b"%PDF-"
    refunds = admin_client.get(reverse("refunds")).content.decode()
    assert invoice.number in refunds and "€ 240,00" in refunds
    response = admin_client.post(reverse("refund-new", args=[invoice.pk]), {
        "amount": "240,00", "refunded_on": "2026-12-02", "method": "bank_transfer",
        "reference": "TR-9"})
    assert response.status_code == 302
    assert invoice.number not in admin_client.get(reverse("refunds")).content.decode()


def test_practitioner_sees_no_payment_screens(practitioner, invoice) -> None:
    from .conftest import client_for

    client = client_for(practitioner)
    for url in (reverse("payment-new", args=[invoice.pk]), reverse("refunds")):
        assert client.get(url).status_code == 403


def test_admin_switches_on_credits_available_at_issue(admin_client) -> None:
    from core.models import Practice

    from .test_practice import URL, practice_data

    form = admin_client.get(URL).content.decode()
    assert "Credits beschikbaar bij factureren" in form
    data = practice_data(credits_available_at_issue="on")
    data["_fingerprint"] = str(admin_client.get(URL).context["form"].initial["_fingerprint"])
    assert admin_client.post(URL, data).status_code == 302
    assert Practice.get().credits_available_at_issue is True


def test_refunds_list_is_linked_from_the_invoices(receptionist_client) -> None:
    html = receptionist_client.get(reverse("invoices")).content.decode()
    assert reverse("refunds") in html and "Terug te betalen" in html
    assert "Niets terug te betalen" in receptionist_client.get(reverse("refunds")).content.decode()


def test_the_invoice_list_reads_open_amounts_in_one_query(admin, receptionist_client,
                                                          invoice) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries() -> tuple[int, str]:
        with CaptureQueriesContext(connection) as seen:
            html = receptionist_client.get(reverse("invoices")).content.decode()
        return len(seen), html

    register(receptionist_client, invoice, "1000")
    one, html = queries()
    assert "€ 200,00" in html
    product = invoice.lines.get().product
    for _ in range(3):
        issue_invoice(make.draft(invoice.patient, [(product, 1)], admin), by=admin)
    assert queries()[0] == one  # the sums come with the rows, not per row


def test_admin_credits_an_unpaid_invoice_once_and_the_receptionist_may_not(
        admin_client, receptionist_client, invoice) -> None:
    url = reverse("credit-note-new", args=[invoice.pk])
    form = admin_client.get(url).content.decode()
    assert "10 in afwachting van betaling (deze eerst)" in form
    line = invoice.lines.get()
    refused = admin_client.post(url, {f"line_{line.pk}": "11", "reason": ""})
    assert refused.status_code == 200 and not CreditNote.objects.exists()
    data = {f"line_{line.pk}": "3", "reason": "Bedacht", "request_key": str(uuid.uuid4())}
    for _ in range(2):
        assert admin_client.post(url, data).status_code == 302
    assert CreditNote.objects.count() == 1
    assert "7 in afwachting van betaling" in page(admin_client, invoice)
    assert receptionist_client.get(url).status_code == 403
    assert receptionist_client.post(url, data | {"request_key": str(uuid.uuid4())}
                                    ).status_code == 403
    assert CreditNote.objects.count() == 1
