"""Payments release credits once; reversals take them back (DOMAIN.md rule 7)."""

from __future__ import annotations

import datetime
import re
import threading
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, User
from django.db import connection
from django.test import Client
from django.utils import timezone
from djmoney.money import Money

from communication.models import OutgoingEmail
from core.models import Practice
from invoicing import payments
from invoicing.invoices import issue_invoice
from invoicing.models import Invoice, Payment
from invoicing.queries import unpaid_appointment_ids
from packages import ledger
from packages.ledger_models import CreditEntry
from scheduling.models import Appointment

from . import invoice_factories as make
from . import ledger_helpers as lh
from .conftest import client_for
from .test_patient_tab_pages import shown, tab_queries

pytestmark = pytest.mark.django_db
TODAY = datetime.date(2026, 12, 1)


def issued(by: User, *, credits: int = 10, price: str = "1200.00") -> Invoice:
    make.practice()
    package = make.package()
    product = make.product(price=price, package=package, credits=credits)
    who = make.patient(email="piet@example.nl")
    return issue_invoice(make.draft(who, [(product, 1)], by), by=by)


def pay(invoice: Invoice, amount: str, by: User) -> Payment:
    return payments.register_payment(invoice, amount=Money(amount, "EUR"), paid_on=TODAY,
                                     method="bank_transfer", reference="NL12", by=by)


def balance(invoice: Invoice) -> dict[str, int]:
    line = invoice.lines.get()
    return lh.counters(invoice.patient, line.package)


def test_partial_then_completing_payment_releases_credits_once(admin) -> None:
    invoice = issued(admin)
    assert balance(invoice)["pending"] == 10
    pay(invoice, "500.00", admin)
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.OPEN
    assert invoice.open_amount == Money("700.00", "EUR")
    assert balance(invoice) == {"pending": 10, "available": 0, "reserved": 0, "used": 0,
                                "expired": 0}
    pay(invoice, "710.00", admin)  # ten euros too much
    invoice.refresh_from_db()
    money = payments.figures(invoice)
    assert invoice.status == Invoice.Status.PAID
    assert money.open == Money("0.00", "EUR") and money.overpaid == Money("10.00", "EUR")
    assert balance(invoice)["available"] == 10 and balance(invoice)["pending"] == 0
    lot = invoice.lines.get().credit_lot
    lot.refresh_from_db()
    assert lot.activated_at is not None
    # A further payment changes nothing in the ledger and sends no second email.
    pay(invoice, "5.00", admin)
    assert CreditEntry.objects.filter(kind="activate").count() == 1
    mails = OutgoingEmail.objects.filter(event="payment_received")
    assert mails.count() == 1 and "10 credits" in mails.get().body_text
    assert ledger.derive_differences() == []


def test_reversal_after_some_credits_reserved_and_used(admin) -> None:
    invoice = issued(admin)
    package = invoice.lines.get().package
    payment = pay(invoice, "1200.00", admin)
    patient = invoice.patient
    visits = [lh.appointment(patient, package) for _ in range(3)]
    for i, visit in enumerate(visits):
        ledger.reserve(visit, credits=1, package=package, key=f"book:{i}", by=admin)
    ledger.use(visits[0], forfeited=False, key="attended:0", by=admin)
    assert balance(invoice) == {"pending": 0, "available": 7, "reserved": 2, "used": 1,
                                "expired": 0}

    payments.reverse_payment(payment, reason="Stornering door de bank", by=admin)
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.OPEN
    assert invoice.open_amount == Money("1200.00", "EUR")
    assert invoice.due_date == invoice.issue_date + datetime.timedelta(days=14)
    # Unused available credits are pending again; reserved and used ones stay.
    assert balance(invoice) == {"pending": 7, "available": 0, "reserved": 2, "used": 1,
                                "expired": 0}
    ids = [v.pk for v in visits]
    assert unpaid_appointment_ids(ids) == {visits[1].pk, visits[2].pk}
    assert ledger.derive_differences() == []
    # The calendar shows the flag on exactly those two.
    for visit in visits:  # the ledger helpers' practitioners, shown on the calendar
        visit.practitioner.groups.add(Group.objects.get(name="practitioner"))
    day = visits[1].start.astimezone(ledger.AMSTERDAM).date()
    page = client_for(admin).get("/calendar/", {"view": "day", "date": day.isoformat(),
                                                "practitioner": visits[1].practitioner_id})
    assert page.content.decode().count("Pakket onbetaald") == 1

    # Paid again: a new epoch activates again, under its own key; the flag is gone.
    pay(invoice, "1200.00", admin)
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID
    assert balance(invoice)["available"] == 7
    keys = sorted(CreditEntry.objects.filter(kind__in=["activate", "deactivate"])
                  .values_list("kind", "idempotency_key"))
    line = invoice.lines.get()
    assert keys == [("activate", f"invoice-paid:{invoice.pk}:1:{line.pk}"),
                    ("activate", f"invoice-paid:{invoice.pk}:2:{line.pk}"),
                    ("deactivate", f"invoice-unpaid:{invoice.pk}:1:{line.pk}")]
    assert unpaid_appointment_ids(ids) == set()
    assert OutgoingEmail.objects.filter(event="payment_received").count() == 2
    assert ledger.derive_differences() == []


def flagged(body: str) -> set[int]:
    """The appointments whose row of the patient's Appointments tab carries the flag."""
    rows = re.findall(r'<tr [^>]*data-appointment="(\d+)">(.*?)</tr>', body, re.S)
    return {int(pk) for pk, row in rows if "Pakket onbetaald" in row}


def test_the_patients_appointments_tab_flags_exactly_the_appointments_holding_unpaid_credits(
    admin: User, receptionist: User
) -> None:
    invoice = issued(admin)
    package = invoice.lines.get().package
    payment = pay(invoice, "1200.00", admin)
    who = invoice.patient
    held_past, used, held, held_too, free = (lh.appointment(who, package) for _ in range(5))
    for visit in (held_past, used, held, held_too):
        ledger.reserve(visit, credits=1, package=package, key=f"book:{visit.pk}", by=admin)
    ledger.use(used, forfeited=False, key=f"attended:{used.pk}", by=admin)
    other = lh.package("Massage 5×")  # credits of another, paid package: never flagged
    lh.lot(who, other, 5)
    elsewhere = lh.appointment(who, other)
    ledger.reserve(elsewhere, credits=1, package=other, key="book:other", by=admin)
    # Two of them are over by now (moved afterwards: the lot need not cover their day).
    for visit, days in ((held_past, 2), (used, 3)):
        start = timezone.now() - datetime.timedelta(days=days)
        Appointment.objects.filter(pk=visit.pk).update(
            start=start, end=start + datetime.timedelta(minutes=30))
    own = held.practitioner  # a practitioner sees the tab of their own patient, flags too
    own.groups.add(Group.objects.get(name="practitioner"))
    clients = [client_for(receptionist), client_for(own)]
    url = f"/patients/{who.pk}/appointments/"
    everyone = {held_past.pk, used.pk, held.pk, held_too.pk, free.pk, elsewhere.pk}

    def tab(client: Client, target: str | None = None) -> str:
        headers = {"HX-Request": "true", "HX-Target": target} if target else {}
        response = client.get(url, headers=headers)
        assert response.status_code == 200
        return response.content.decode()

    before = [tab_queries(client, url) for client in clients]
    for client in clients:
        assert flagged(tab(client)) == set() and set(shown(tab(client))) == everyone

    payments.reverse_payment(payment, reason="Stornering door de bank", by=admin)
    for client in clients:
        assert flagged(tab(client)) == {held_past.pk, held.pk, held_too.pk}
        upcoming = tab(client, "upcoming-appointments")
        assert flagged(upcoming) == {held.pk, held_too.pk}  # a page link keeps them
        past = tab(client, "past-appointments")
        assert flagged(past) == {held_past.pk}
    # One query for the flags of all rows shown, whether or not any is flagged.
    assert [tab_queries(client, url) for client in clients] == before

    pay(invoice, "1200.00", admin)  # paid again: the flags are gone
    for client in clients:
        assert flagged(tab(client)) == set() and set(shown(tab(client))) == everyone
    assert [tab_queries(client, url) for client in clients] == before


def test_reversing_an_overpayment_leaves_the_invoice_paid(admin) -> None:
    invoice = issued(admin)
    pay(invoice, "1200.00", admin)
    extra = pay(invoice, "50.00", admin)
    payments.reverse_payment(extra, reason="Dubbel betaald, teruggeboekt", by=admin)
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID
    assert balance(invoice)["available"] == 10
    assert not CreditEntry.objects.filter(kind="deactivate").exists()


def test_payment_amount_must_be_positive_and_reversal_needs_reason(admin) -> None:
    invoice = issued(admin)
    with pytest.raises(payments.PaymentError):
        pay(invoice, "0.00", admin)
    payment = pay(invoice, "10.00", admin)
    with pytest.raises(payments.PaymentError):
        payments.reverse_payment(payment, reason=" ", by=admin)


def test_credits_available_at_issue_setting(admin) -> None:
    make.practice()
    practice = Practice.get()
    practice.credits_available_at_issue = True
    practice.save()
    package = make.package()
    product = make.product(package=package, credits=10)
    invoice = issue_invoice(make.draft(make.patient(), [(product, 1)], admin), by=admin)
    assert balance(invoice)["available"] == 10
    payment = pay(invoice, "1200.00", admin)
    payments.reverse_payment(payment, reason="Stornering", by=admin)
    assert balance(invoice)["available"] == 10  # not tied to the payment
    assert CreditEntry.objects.filter(kind="activate").count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_completing_payments_at_once_activate_once(admin, quiet_broker) -> None:
    invoice = issued(admin)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait(timeout=5)
            pay(Invoice.objects.get(pk=invoice.pk), "1200.00", admin)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    assert errors == []
    assert Payment.objects.filter(invoice=invoice).count() == 2
    activations = CreditEntry.objects.filter(kind="activate")
    assert activations.count() == 1
    assert len(set(activations.values_list("idempotency_key", flat=True))) == 1
    assert Payment.objects.filter(completed_epoch__isnull=False).count() == 1
    assert balance(invoice)["available"] == 10
    money = payments.figures(Invoice.objects.get(pk=invoice.pk))
    assert money.overpaid == Money(Decimal("1200.00"), "EUR")
    assert OutgoingEmail.objects.filter(event="payment_received").count() == 1
    assert ledger.derive_differences() == []
