"""Credit notes: only available credits, at their lot's value; one gapless series; refunds."""

from __future__ import annotations

import datetime

import pytest
from django.db import DatabaseError, transaction
from djmoney.money import Money

from communication.models import OutgoingEmail
from invoicing import credit_notes, payments
from invoicing.invoices import issue_invoice
from invoicing.models import CreditNote, Invoice
from packages import ledger
from packages.ledger_models import CreditEntry

from . import invoice_factories as make
from . import ledger_helpers as lh

pytestmark = pytest.mark.django_db
TODAY = datetime.date(2026, 12, 1)


@pytest.fixture
def shop(admin) -> dict:
    make.practice(invoice_prefix="FX")
    package = make.package()
    return {
        "patient": make.patient(email="piet@example.nl"),
        "package": package,
        # 1210 incl. 21 % VAT: net 1000, so each credit is worth exactly 100.
        "taxed": make.product("FIT10", "Fitness 10×", "1210.00", vat="21", package=package,
                              credits=10),
        "exempt": make.product("FYS10", "Fysio 10×", "1000.00", package=package, credits=10),
        "shake": make.product("SHAKE", "Eiwitshake", "3.27", vat="9"),
    }


def issue(shop: dict, by, *lines) -> Invoice:
    return issue_invoice(make.draft(shop["patient"], list(lines), by), by=by)


def paid(invoice: Invoice, by) -> Invoice:
    payments.register_payment(invoice, amount=invoice.total, paid_on=TODAY,
                              method="pin", by=by)
    invoice.refresh_from_db()
    return invoice


def test_crediting_3_of_10_revokes_3_at_their_value_vat_at_the_line_rate(shop, admin) -> None:
    invoice = paid(issue(shop, admin, (shop["taxed"], 1)), admin)
    line = invoice.lines.get()
    note = credit_notes.create_credit_note(invoice, counts={line.pk: 3}, reason="Verhuisd",
                                           by=admin)
    assert note.total_net == Money("-300.00", "EUR")  # 3 × the lot's 100 per credit
    assert note.total_vat == Money("-63.00", "EUR")  # 21 % of 300
    assert note.total == Money("-363.00", "EUR")
    (credit_line,) = note.lines.all()
    assert credit_line.vat_rate == line.vat_rate and credit_line.credits == 3
    revoke = CreditEntry.objects.get(kind="revoke")
    assert revoke.credits == 3 and revoke.lot_id == line.credit_lot_id
    assert lh.counters(invoice.patient, shop["package"])["available"] == 7
    invoice.refresh_from_db()
    # Paid in full, then 363 credited: that is owed back to the patient.
    money = payments.figures(invoice)
    assert money.owed_to_patient == Money("363.00", "EUR")
    assert invoice.status == Invoice.Status.PAID
    assert [inv for inv, _m in payments.refunds_to_make()] == [invoice]
    mail = OutgoingEmail.objects.get(event="credit_note")
    assert note.number in mail.subject
    assert ledger.derive_differences() == []


def test_more_than_the_available_credits_is_refused(shop, admin) -> None:
    invoice = paid(issue(shop, admin, (shop["exempt"], 1)), admin)
    line = invoice.lines.get()
    visits = [lh.appointment(invoice.patient, shop["package"]) for _ in range(2)]
    for i, visit in enumerate(visits):
        ledger.reserve(visit, credits=1, package=shop["package"], key=f"b{i}", by=admin)
    ledger.use(visits[0], forfeited=False, key="u0", by=admin)
    rows = {row.line.pk: row for row in credit_notes.creditable(invoice)}
    assert rows[line.pk].maximum == 8
    with pytest.raises(credit_notes.CreditNoteError, match="8"):
        credit_notes.create_credit_note(invoice, counts={line.pk: 9}, reason="", by=admin)
    assert not CreditNote.objects.exists()
    assert not CreditEntry.objects.filter(kind="revoke").exists()
    # The 8 available ones can be credited; the last of them takes the line's remainder.
    note = credit_notes.create_credit_note(invoice, counts={line.pk: 8}, reason="", by=admin)
    assert note.total == Money("-800.00", "EUR")
    assert lh.counters(invoice.patient, shop["package"]) == {
        "pending": 0, "available": 0, "reserved": 1, "used": 1, "expired": 0}


def test_crediting_a_line_in_parts_adds_up_to_the_line(shop, admin) -> None:
    invoice = paid(issue(shop, admin, (shop["shake"], 3)), admin)
    line = invoice.lines.get()
    first = credit_notes.create_credit_note(invoice, counts={line.pk: 1}, reason="", by=admin)
    second = credit_notes.create_credit_note(invoice, counts={line.pk: 2}, reason="", by=admin)
    assert first.total.amount + second.total.amount == -line.gross.amount
    assert first.total_vat.amount + second.total_vat.amount == -line.vat.amount
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.CREDITED
    with pytest.raises(credit_notes.CreditNoteError):
        credit_notes.create_credit_note(invoice, counts={line.pk: 1}, reason="", by=admin)


def test_numbering_is_gapless_across_invoices_and_credit_notes(shop, admin) -> None:
    one = paid(issue(shop, admin, (shop["shake"], 2)), admin)
    note = credit_notes.create_credit_note(one, counts={one.lines.get().pk: 1}, reason="",
                                           by=admin)
    two = issue(shop, admin, (shop["shake"], 1))
    year = TODAY.year if one.year == TODAY.year else one.year
    assert [one.number, note.number, two.number] == [
        f"FX{year}-00001", f"FX{year}-00002", f"FX{year}-00003"]
    # A refused credit note takes no number.
    with pytest.raises(credit_notes.CreditNoteError):
        credit_notes.create_credit_note(two, counts={two.lines.get().pk: 5}, reason="",
                                        by=admin)
    three = issue(shop, admin, (shop["shake"], 1))
    assert three.number == f"FX{year}-00004"


def test_credit_notes_and_payments_are_append_only_in_the_database(shop, admin) -> None:
    invoice = paid(issue(shop, admin, (shop["shake"], 2)), admin)
    note = credit_notes.create_credit_note(invoice, counts={invoice.lines.get().pk: 1},
                                           reason="", by=admin)
    with pytest.raises(DatabaseError), transaction.atomic():
        CreditNote.objects.filter(pk=note.pk).update(total=Money("-1.00", "EUR"))
    with pytest.raises(DatabaseError), transaction.atomic():
        invoice.payments.all().delete()


def test_refund_recorded_clears_the_refunds_list(shop, admin) -> None:
    invoice = paid(issue(shop, admin, (shop["shake"], 2)), admin)
    credit_notes.create_credit_note(invoice, counts={invoice.lines.get().pk: 2}, reason="",
                                    by=admin)
    owed = payments.figures(invoice).owed_to_patient
    assert owed == Money("6.54", "EUR")
    with pytest.raises(payments.PaymentError):
        payments.record_refund(invoice, amount=Money("7.00", "EUR"), refunded_on=TODAY,
                               method="bank_transfer", by=admin)
    payments.record_refund(invoice, amount=owed, refunded_on=TODAY, method="bank_transfer",
                           reference="TR-1", by=admin)
    assert payments.refunds_to_make() == []


def test_credit_note_pdf_renders(shop, admin) -> None:
    invoice = paid(issue(shop, admin, (shop["taxed"], 1)), admin)
    note = credit_notes.create_credit_note(invoice, counts={invoice.lines.get().pk: 2},
                                           reason="", by=admin)
    stored = credit_notes.store_pdf(note.pk)
    with stored.pdf.open("rb") as handle:
        data = handle.read()
    assert data[:5] == b"%PDF-"
    from io import BytesIO

    from pypdf import PdfReader

    text = PdfReader(BytesIO(data)).pages[0].extract_text()
    assert "Creditnota" in text and note.number in text and invoice.number in text
    assert "€ -242,00" in text  # 2 × 100 net + 21 % VAT, negated
    assert credit_notes.store_pdf(note.pk).pdf.name == stored.pdf.name  # rendered once


# ---------------------------------------------------------------------------- unpaid invoices

def test_an_unpaid_invoice_credits_pending_credits_and_payment_activates_the_rest(
        shop, admin) -> None:
    invoice = issue(shop, admin, (shop["taxed"], 1))  # € 1210, 10 pending credits
    line = invoice.lines.get()
    rows = {row.line.pk: row for row in credit_notes.creditable(invoice)}
    assert (rows[line.pk].pending, rows[line.pk].available, rows[line.pk].maximum) == (10, 0, 10)
    note = credit_notes.create_credit_note(invoice, counts={line.pk: 3}, reason="Bedacht",
                                           by=admin)
    assert note.total_net == Money("-300.00", "EUR")  # 3 × the lot's 100 per credit
    assert note.total_vat == Money("-63.00", "EUR")  # at the line's 21 %
    assert note.lines.get().vat_rate == line.vat_rate
    revoke = CreditEntry.objects.get(kind="revoke")
    assert (revoke.credits, revoke.d_pending, revoke.d_available) == (3, -3, 0)
    assert lh.counters(invoice.patient, shop["package"])["pending"] == 7
    assert note.completed_epoch is None
    assert ledger.derive_differences() == []
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.OPEN
    assert payments.figures(invoice).open == Money("847.00", "EUR")
    # Paid what is left: only the 7 remaining credits become available.
    payments.register_payment(invoice, amount=Money("847.00", "EUR"), paid_on=TODAY,
                              method="pin", by=admin)
    assert lh.counters(invoice.patient, shop["package"]) == {
        "pending": 0, "available": 7, "reserved": 0, "used": 0, "expired": 0}
    assert CreditEntry.objects.get(kind="activate").credits == 7
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID
    # Paid now: only available credits can be credited.
    assert credit_notes.creditable(invoice)[0].takes_pending is False
    assert ledger.derive_differences() == []


def test_crediting_all_pending_credits_credits_the_unpaid_invoice_in_full(shop, admin) -> None:
    invoice = issue(shop, admin, (shop["taxed"], 1))
    line = invoice.lines.get()
    credit_notes.create_credit_note(invoice, counts={line.pk: 3}, reason="", by=admin)
    rest = credit_notes.create_credit_note(invoice, counts={line.pk: 7}, reason="", by=admin)
    assert rest.total == Money("-847.00", "EUR")  # the line's remainder exactly
    assert lh.counters(invoice.patient, shop["package"]) == {
        "pending": 0, "available": 0, "reserved": 0, "used": 0, "expired": 0}
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.CREDITED
    assert payments.figures(invoice).balance == Money("0.00", "EUR")
    assert not CreditEntry.objects.filter(kind="activate").exists()
    with pytest.raises(payments.PaymentError):
        payments.register_payment(invoice, amount=Money("1.00", "EUR"), paid_on=TODAY,
                                  method="pin", by=admin)
    assert ledger.derive_differences() == []


def test_more_than_pending_is_refused_and_takes_no_number(shop, admin) -> None:
    invoice = issue(shop, admin, (shop["taxed"], 1))
    line = invoice.lines.get()
    with pytest.raises(credit_notes.CreditNoteError, match="10 .*in afwachting van betaling"):
        credit_notes.create_credit_note(invoice, counts={line.pk: 11}, reason="", by=admin)
    assert not CreditNote.objects.exists()
    assert not CreditEntry.objects.filter(kind="revoke").exists()
    note = credit_notes.create_credit_note(invoice, counts={line.pk: 1}, reason="", by=admin)
    assert note.number == f"FX{invoice.year}-00002"  # right after the invoice: no gap


def test_a_partly_paid_invoice_credits_pending_and_a_note_that_settles_it_activates_the_rest(
        shop, admin) -> None:
    invoice = issue(shop, admin, (shop["taxed"], 1))
    line = invoice.lines.get()
    payments.register_payment(invoice, amount=Money("847.00", "EUR"), paid_on=TODAY,
                              method="pin", by=admin)
    assert lh.counters(invoice.patient, shop["package"])["pending"] == 10
    # 3 credits (€ 363) credited: nothing is owed any more, so the other 7 are paid for.
    note = credit_notes.create_credit_note(invoice, counts={line.pk: 3}, reason="", by=admin)
    assert note.completed_epoch == 1
    assert lh.counters(invoice.patient, shop["package"]) == {
        "pending": 0, "available": 7, "reserved": 0, "used": 0, "expired": 0}
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID
    # The payment reversed: the 7 are pending again, under the new epoch's key.
    payments.reverse_payment(invoice.payments.get(), reason="Storno", by=admin)
    assert lh.counters(invoice.patient, shop["package"])["pending"] == 7
    payments.register_payment(invoice, amount=Money("847.00", "EUR"), paid_on=TODAY,
                              method="pin", by=admin)
    assert lh.counters(invoice.patient, shop["package"])["available"] == 7
    assert ledger.derive_differences() == []


def test_a_double_submit_credits_once(shop, admin) -> None:
    import uuid

    invoice = issue(shop, admin, (shop["taxed"], 1))
    line = invoice.lines.get()
    key = uuid.uuid4()
    first = credit_notes.create_credit_note(invoice, counts={line.pk: 3}, reason="", by=admin,
                                            request_key=key)
    again = credit_notes.create_credit_note(invoice, counts={line.pk: 3}, reason="", by=admin,
                                            request_key=key)
    assert again == first and CreditNote.objects.count() == 1
    assert lh.counters(invoice.patient, shop["package"])["pending"] == 7
