"""Product invoices: issue numbers, snapshots and freezes; pending lots; the screens."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
import time_machine
from django.contrib.auth.models import User
from django.db import DatabaseError, transaction
from django.test import Client
from django.utils import translation
from djmoney.money import Money
from stdnum import iso11649

from core.audit import history
from invoicing import invoices
from invoicing.invoices import LineData
from invoicing.models import Invoice, InvoiceLine
from packages.ledger_models import CreditBalance

from . import invoice_factories as make

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(admin: User) -> dict:
    make.practice(invoice_prefix="FX", payment_term_days=30)
    package = make.package()
    return {
        "patient": make.patient(),
        "package": package,
        "ten": make.product("FYS10", "Fysio 10 behandelingen", "1200.00", package=package,
                            credits=10),
        "fit": make.product("FIT", "Fysiofitness maand", "60.50", vat="21"),
        "shake": make.product("SHAKE", "Eiwitshake", "3.27", vat="9"),
    }


def test_issue_numbers_snapshots_and_grants_pending_credits(setup, admin) -> None:
    draft = make.draft(setup["patient"], [LineData(setup["ten"], 2, Decimal("10")),
                                          LineData(setup["fit"], 1)], by=admin)
    assert draft.number == "" and draft.total == Money("2220.50", "EUR")
    with time_machine.travel(datetime.datetime(2026, 3, 2, 10, tzinfo=datetime.UTC)):
        invoice = invoices.issue_invoice(draft, by=admin)
    assert invoice.number == "FX2026-00001"
    assert invoice.status == Invoice.Status.OPEN
    assert invoice.issue_date == datetime.date(2026, 3, 2)
    assert invoice.due_date == datetime.date(2026, 4, 1)  # 30 days' term
    assert iso11649.is_valid(invoice.payment_reference)
    assert invoice.payment_reference.endswith("202600001")
    assert invoice.seller["iban"] == "NL91ABNA0417164300"
    assert invoice.buyer == {"name": "Piet Jansen", "street": "Kerkstraat 1",
                             "postal_code": "1234 AB", "city": "Zeist"}
    assert "11" in invoice.exemption_text  # the exempt line brings the legal text
    # 2 × 1200 − 10 % = 2160 exempt; 60.50 at 21 %: VAT 10.50.
    assert invoice.total == Money("2220.50", "EUR")
    assert invoice.total_vat == Money("10.50", "EUR")
    ten = invoice.lines.get(code="FYS10")
    assert ten.credit_lot is not None
    assert ten.credit_lot.credits == 20 and ten.credit_lot.value_total == Money(2160, "EUR")
    balance = CreditBalance.objects.get(patient=setup["patient"], package=setup["package"])
    assert balance.pending == 20 and balance.available == 0
    assert invoice.lines.get(code="FIT").credit_lot is None
    assert [e.changes.get("number") for e in history(invoice)
            if "number" in e.changes] == [["", "FX2026-00001"]]


def test_issue_twice_is_harmless_and_numbers_follow_per_year(setup, admin) -> None:
    first = make.draft(setup["patient"], [(setup["fit"], 1)], by=admin)
    with time_machine.travel(datetime.datetime(2026, 12, 31, 12, tzinfo=datetime.UTC)):
        issued = invoices.issue_invoice(first, by=admin)
        again = invoices.issue_invoice(first, by=admin)  # double click
        second = invoices.issue_invoice(make.draft(setup["patient"], [(setup["fit"], 1)],
                                                   by=admin), by=admin)
    with time_machine.travel(datetime.datetime(2027, 1, 1, 9, tzinfo=datetime.UTC)):
        new_year = invoices.issue_invoice(make.draft(setup["patient"], [(setup["fit"], 1)],
                                                     by=admin), by=admin)
    assert (issued.number, again.number, second.number, new_year.number) == (
        "FX2026-00001", "FX2026-00001", "FX2026-00002", "FX2027-00001")
    assert CreditBalance.objects.count() == 0  # no package line, no lot


def test_issued_invoice_is_immutable_in_model_admin_and_database(setup, admin) -> None:
    invoice = invoices.issue_invoice(make.draft(setup["patient"], [(setup["ten"], 1)],
                                                by=admin), by=admin)
    number = invoice.number
    invoice.total = Money(1, "EUR")
    with pytest.raises(Exception, match="kan niet meer worden gewijzigd"):
        invoice.save()
    with pytest.raises(Exception, match="kan nooit worden verwijderd"):
        invoice.delete()
    line = invoice.lines.get()
    line.quantity = 5
    with pytest.raises(Exception, match="kunnen niet meer veranderen"):
        line.save()
    # Around the model: the database trigger refuses too.
    for attempt in (lambda: Invoice.objects.filter(pk=invoice.pk).update(number="X"),
                    lambda: Invoice.objects.filter(pk=invoice.pk).update(status="draft"),
                    lambda: Invoice.objects.filter(pk=invoice.pk).delete(),
                    lambda: InvoiceLine.objects.filter(invoice=invoice).update(quantity=9)):
        with pytest.raises(DatabaseError, match="issued"), transaction.atomic():
            attempt()
    # Only the status and the PDF's state move on.
    Invoice.objects.filter(pk=invoice.pk).update(pdf_state="failed", pdf_attempts=1)
    invoice.refresh_from_db()
    assert invoice.number == number and invoice.total == Money(1200, "EUR")
    assert invoice.pdf_state == "failed"

    client = Client()
    client.force_login(User.objects.create_superuser("root", password="x"))
    change = client.get(f"/admin/invoicing/invoice/{invoice.pk}/change/")
    assert change.status_code == 200 and "Save" not in change.content.decode()
    assert client.post(f"/admin/invoicing/invoice/{invoice.pk}/delete/").status_code == 403
    assert client.post(f"/admin/invoicing/invoice/{invoice.pk}/change/",
                       {"number": "X"}).status_code == 403
    invoice.refresh_from_db()
    assert invoice.total == Money(1200, "EUR") and Invoice.objects.count() == 1


def test_issue_refuses_without_the_legal_practice_details(setup, admin) -> None:
    make.practice(iban="", vat_id="")
    draft = make.draft(setup["patient"], [(setup["fit"], 1)], by=admin)
    with translation.override("en"), pytest.raises(invoices.InvoiceError,
                                                   match="IBAN, VAT id"):
        invoices.issue_invoice(draft, by=admin)
    draft.refresh_from_db()
    assert draft.is_draft and draft.number == ""


def test_a_draft_edit_from_a_stale_form_is_refused(setup, admin) -> None:
    draft = make.draft(setup["patient"], [(setup["fit"], 1)], by=admin)
    invoices.update_draft(draft, patient=setup["patient"], lines=[LineData(setup["fit"], 2)],
                          version=1, by=admin)
    with pytest.raises(invoices.InvoiceError, match="Iemand anders heeft dit concept gewijzigd"):
        invoices.update_draft(draft, patient=setup["patient"],
                              lines=[LineData(setup["fit"], 3)], version=1, by=admin)
    draft.refresh_from_db()
    assert draft.total == Money("121.00", "EUR")


def test_overdue_is_shown_after_the_due_date_only(setup, admin) -> None:
    with time_machine.travel(datetime.datetime(2026, 3, 2, 10, tzinfo=datetime.UTC)):
        invoice = invoices.issue_invoice(make.draft(setup["patient"], [(setup["fit"], 1)],
                                                    by=admin), by=admin)
    assert invoice.display_status(datetime.date(2026, 4, 1)) == "open"  # the due date
    assert invoice.display_status(datetime.date(2026, 4, 2)) == "overdue"
    assert invoice.open_amount == invoice.total


# ---------------------------------------------------------------------------- screens

def test_practitioners_get_403_on_every_invoice_url(setup, admin, practitioner) -> None:
    invoice = invoices.issue_invoice(make.draft(setup["patient"], [(setup["fit"], 1)],
                                                by=admin), by=admin)
    client = Client()
    client.force_login(practitioner)
    pk = invoice.pk
    for url in ("/invoices/", "/invoices/new/", f"/invoices/{pk}/", f"/invoices/{pk}/edit/",
                f"/invoices/{pk}/pdf/", f"/invoices/{pk}/pdf/status/", "/invoices/patients/",
                "/invoices/line/"):
        assert client.get(url).status_code == 403, url
    for url in ("/invoices/preview/", f"/invoices/{pk}/issue/", f"/invoices/{pk}/delete/",
                f"/invoices/{pk}/pdf/retry/"):
        assert client.post(url).status_code == 403, url
    assert 'href="/invoices/"' not in client.get("/calendar/").content.decode()


def form_data(patient_pk: int, *lines: tuple[str, str, str], **extra: str) -> dict:
    data = {"patient": str(patient_pk), "lines-TOTAL_FORMS": str(len(lines)),
            "lines-INITIAL_FORMS": "0", "lines-MIN_NUM_FORMS": "1",
            "lines-MAX_NUM_FORMS": "50"}
    for i, (product, quantity, discount) in enumerate(lines):
        data |= {f"lines-{i}-product": product, f"lines-{i}-quantity": quantity,
                 f"lines-{i}-discount": discount}
    return data | extra


def test_receptionist_saves_a_draft_then_creates_the_invoice(setup, receptionist_client,
                                                             receptionist) -> None:
    patient = setup["patient"]
    page = receptionist_client.get(f"/invoices/new/?patient={patient.pk}&product="
                                   f"{setup['ten'].pk}")
    body = page.content.decode()
    assert page.status_code == 200
    assert "FYS10 — Fysio 10 behandelingen" in body and "Piet Jansen" in body
    assert "€ 1.200,00" in body  # the Sell-package line priced at once

    preview = receptionist_client.post("/invoices/preview/", form_data(
        patient.pk, ("fys10", "2", "10"), ("Fysiofitness maand", "1", ""), ("nope", "1", "")))
    text = preview.content.decode()
    assert "€ 2.220,50" in text and "€ 10,50" in text  # total; VAT 21 %
    assert 'id="line-2-amount" hx-swap-oob="true">—' in text  # unknown product: no amount

    refused = receptionist_client.post("/invoices/new/", form_data(patient.pk,
                                                                   ("nope", "1", "")))
    assert refused.status_code == 422
    assert "Er wordt geen product verkocht met de code of naam “nope”" in refused.content.decode()

    key = "0b0e3c1e-1c43-4c38-9a7b-0c1d2e3f4a5b"
    data = form_data(patient.pk, ("FYS10", "2", "10"), ("FIT", "1", ""), request_key=key)
    saved = receptionist_client.post("/invoices/new/", data)
    assert receptionist_client.post("/invoices/new/", data).url == saved.url  # double submit
    draft = Invoice.objects.get()
    assert saved.url == f"/invoices/{draft.pk}/" and draft.is_draft
    assert draft.total == Money("2220.50", "EUR")

    created = receptionist_client.post(f"/invoices/{draft.pk}/issue/", follow=True)
    body = created.content.decode()
    assert f"Factuur {Invoice.objects.get().number} is aangemaakt" in body
    assert "De pdf wordt voorbereid" in body  # on its way
    draft.refresh_from_db()
    assert draft.status == "open" and draft.pdf_state == "pending"
    assert receptionist_client.get(f"/invoices/{draft.pk}/edit/").status_code == 302


def test_list_filters_and_searches(setup, admin, receptionist_client) -> None:
    other = make.patient("Anna", "de Vries")
    with time_machine.travel(datetime.datetime(2026, 1, 5, 10, tzinfo=datetime.UTC)):
        old = invoices.issue_invoice(make.draft(setup["patient"], [(setup["fit"], 1)],
                                                by=admin), by=admin)
    with time_machine.travel(datetime.datetime(2026, 3, 1, 10, tzinfo=datetime.UTC)):
        recent = invoices.issue_invoice(make.draft(other, [(setup["ten"], 1)], by=admin),
                                        by=admin)
        make.draft(other, [(setup["shake"], 2)], by=admin)

        def rows(**params: str) -> str:
            response = receptionist_client.get("/invoices/", params,
                                               headers={"HX-Request": "true"})
            assert "<html" not in response.content.decode()
            return response.content.decode()

        everything = rows()
        assert old.number in everything and recent.number in everything
        assert "Concept" in everything
        assert old.number in rows(status="overdue") and recent.number not in rows(
            status="overdue")
        assert recent.number in rows(status="open") and old.number not in rows(status="open")
        assert recent.number not in rows(status="draft")
        assert old.number in rows(q="jansen") and recent.number not in rows(q="jansen")
        assert recent.number in rows(q="00002")
        assert old.number not in rows(**{"from": "2026-02-01"})
        assert recent.number not in rows(patient=str(setup["patient"].pk))
        assert "€ 1.200,00" in rows(q="vries")  # total and open amount


def test_sell_package_opens_the_form_with_the_packages_product(setup, receptionist_client
                                                               ) -> None:
    patient, package = setup["patient"], setup["package"]
    body = receptionist_client.get(
        f"/invoices/new/?patient={patient.pk}&package={package.pk}").content.decode()
    assert 'value="FYS10 — Fysio 10 behandelingen"' in body
    assert f'name="patient" value="{patient.pk}"' in body and "checked" in body
    assert 'id="invoice-total">€ 1.200,00' in body


def test_a_draft_may_be_deleted_an_issued_invoice_never(setup, admin, receptionist_client
                                                        ) -> None:
    draft = make.draft(setup["patient"], [(setup["fit"], 1)], by=admin)
    response = receptionist_client.post(f"/invoices/{draft.pk}/delete/", follow=True)
    assert "De conceptfactuur is verwijderd." in response.content.decode()
    assert not Invoice.objects.filter(pk=draft.pk).exists()
    assert history(draft).first().action == "delete"

    issued = invoices.issue_invoice(make.draft(setup["patient"], [(setup["fit"], 1)],
                                               by=admin), by=admin)
    response = receptionist_client.post(f"/invoices/{issued.pk}/delete/", follow=True)
    assert "is al aangemaakt en kan niet meer worden gewijzigd" in response.content.decode()
    assert Invoice.objects.filter(pk=issued.pk, status="open").exists()
