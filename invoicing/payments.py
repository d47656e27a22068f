"""Payments and their reversals (DOMAIN.md rule 7), and refunds.

Every change locks the invoice row first and re-reads its money under that lock, so two
payments registered at the same moment serialise: the one that completes the invoice
starts a new payment-completion epoch and activates the lots once, under keys derived from
the invoice and that epoch; the other finds it paid already and is recorded as an
over-payment. A reversal that leaves the invoice short again deactivates its lots under the
same epoch's keys (unused available → pending; reserved credits stay on their visits).
"""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import DecimalField, OuterRef, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _
from djmoney.money import Money

from communication.models import Event
from communication.services import queue_email
from core import audit
from core.models import AuditEntry, Practice
from core.money import eur
from packages import ledger
from packages.ledger_models import CreditBalance

from .invoice_models import Invoice
from .invoices import lock
from .payment_models import CreditNote, Payment, Refund

Status = Invoice.Status
ZERO = Decimal("0.00")


class PaymentError(Exception):
    """A rule refused the change; the message is for the user."""


@dataclass(frozen=True)
class Figures:
    """An invoice's money: what was paid, credited and refunded, and what is left."""

    total: Money
    paid: Money
    credited: Money  # positive: the sum of its credit notes' amounts
    refunded: Money
    balance: Money  # > 0 the patient owes; < 0 the practice owes (to refund)

    @property
    def open(self) -> Money:
        return eur(max(self.balance.amount, ZERO))

    @property
    def owed_to_patient(self) -> Money:
        return eur(max(-self.balance.amount, ZERO))

    @property
    def overpaid(self) -> Money:
        """Paid beyond the invoice's total (what a credit note leaves owed is a refund)."""
        return eur(max(self.paid.amount - self.total.amount, ZERO))

    @property
    def fully_paid(self) -> bool:
        return self.balance.amount <= 0


def _sum(qs: Any, field: str) -> Decimal:
    return Decimal(qs.aggregate(n=Sum(field))["n"] or ZERO)


def _summed(qs: QuerySet[Any], field: str) -> Coalesce:
    sums = qs.filter(invoice=OuterRef("pk")).order_by().values("invoice").annotate(
        s=Sum(field)).values("s")
    return Coalesce(Subquery(sums, output_field=DecimalField()), ZERO,
                    output_field=DecimalField())


def with_money(invoices: QuerySet[Invoice]) -> QuerySet[Invoice]:
    """Annotate the sums `figures` needs, so a list reads them in its one query."""
    return invoices.annotate(
        paid_sum=_summed(Payment.objects.filter(reversed_at__isnull=True), "amount"),
        credited_sum=_summed(CreditNote.objects.all(), "total"),
        refunded_sum=_summed(Refund.objects.all(), "amount"))


def figures(invoice: Invoice) -> Figures:
    total: Decimal = invoice.total.amount  # type: ignore[attr-defined]
    if hasattr(invoice, "paid_sum"):
        paid, refunded = (Decimal(getattr(invoice, name)) for name in ("paid_sum",
                                                                        "refunded_sum"))
        credited = -Decimal(getattr(invoice, "credited_sum"))  # noqa: B009
    else:
        paid = _sum(invoice.payments.filter(reversed_at__isnull=True), "amount")
        credited = -_sum(invoice.credit_notes.all(), "total")
        refunded = _sum(invoice.refunds.all(), "amount")
    return Figures(eur(total), eur(paid), eur(credited), eur(refunded),
                   eur(total - credited - paid + refunded))


def status_for(invoice: Invoice, money: Figures) -> str:
    if money.credited.amount >= money.total.amount and money.total.amount > 0:
        return Status.CREDITED
    return Status.PAID if money.fully_paid else Status.OPEN


def set_status(invoice: Invoice, status: str, *, by: Any) -> None:
    if invoice.status != status:
        before = invoice.get_status_display()
        invoice.status = status
        invoice.save(update_fields=["status"])
        audit.record(invoice, AuditEntry.Action.UPDATE,
                     {"status": [str(before), str(invoice.get_status_display())]}, by=by)


def current_epoch(invoice: Invoice) -> int:
    """Payment-completion epochs so far: by a payment, or by a credit note that left a
    partly paid invoice with nothing owed (invoicing.credit_notes)."""
    return int(invoice.payments.filter(completed_epoch__isnull=False).count()
               + invoice.credit_notes.filter(completed_epoch__isnull=False).count())


def package_lines(invoice: Invoice) -> list[Any]:
    return [li for li in invoice.lines.select_related("credit_lot", "package").order_by(
        "package_id", "pk") if li.credit_lot_id]


def activate_lots(invoice: Invoice, *, epoch: int, by: Any) -> int:
    """Make the invoice's pending credits available; returns how many became available."""
    made = 0
    for line in package_lines(invoice):
        entry = ledger.activate_lot(line.credit_lot, key=f"invoice-paid:{invoice.pk}:{epoch}:"
                                    f"{line.pk}", by=by)
        made += entry.credits if entry is not None else 0
    return made


def deactivate_lots(invoice: Invoice, *, epoch: int, by: Any, reason: str) -> None:
    for line in package_lines(invoice):
        ledger.deactivate_lot(line.credit_lot, key=f"invoice-unpaid:{invoice.pk}:{epoch}:"
                              f"{line.pk}", by=by, reason=reason)


def lock_issued(invoice: Invoice | int) -> Invoice:
    locked = lock(invoice)
    if locked.is_draft:
        raise PaymentError(_("A draft invoice cannot be paid; create the invoice first."))
    return locked


@transaction.atomic
def register_payment(invoice: Invoice | int, *, amount: Money, paid_on: datetime.date,
                     method: str, reference: str = "", by: Any,
                     request_key: uuid.UUID | None = None) -> Payment:
    """Record a payment (partial and over-payments too). The payment that makes the invoice
    fully paid releases its credits and queues the payment-received email."""
    if request_key is not None:
        done = Payment.objects.filter(request_key=request_key).first()
        if done is not None:
            return done
    if amount.amount <= 0:
        raise PaymentError(_("A payment must be more than zero."))
    locked = lock_issued(invoice)
    if locked.status == Status.CREDITED:
        raise PaymentError(_("This invoice has been credited in full; nothing is owed."))
    was_paid = figures(locked).fully_paid
    payment = Payment.objects.create(
        invoice=locked, amount=eur(amount.amount), paid_on=paid_on, method=method,
        reference=reference, request_key=request_key,
        created_by=by if getattr(by, "pk", None) else None)
    money = figures(locked)
    if money.fully_paid and not was_paid:
        payment.completed_epoch = current_epoch(locked) + 1
        payment.save(update_fields=["completed_epoch"])
        if not Practice.get().credits_available_at_issue:
            activate_lots(locked, epoch=payment.completed_epoch, by=by)
        queue_paid_email(locked, payment, epoch=payment.completed_epoch, by=by)
    set_status(locked, status_for(locked, money), by=by)
    audit.record(payment, AuditEntry.Action.CREATE,
                 {"amount": ["", str(payment.amount)], "method": ["", payment.method],
                  "date": ["", str(paid_on)], "reference": ["", reference]}, by=by)
    return payment


@transaction.atomic
def reverse_payment(payment: Payment, *, reason: str, by: Any) -> Payment:
    """A bank reversal or chargeback. When the invoice is short again its lots' unused
    available credits become pending again; reserved ones stay (shown "package unpaid");
    nothing is cancelled; the invoice is open again with its original due date."""
    if not reason.strip():
        raise PaymentError(_("A reversal needs a reason."))
    locked = lock_issued(payment.invoice_id)
    payment = Payment.objects.get(pk=payment.pk)
    if payment.is_reversed:
        return payment
    was_paid = figures(locked).fully_paid
    payment.reversed_at = timezone.now()
    payment.reversed_by = by if getattr(by, "pk", None) else None
    payment.reversal_reason = reason
    payment.save(update_fields=["reversed_at", "reversed_by", "reversal_reason"])
    money = figures(locked)
    if was_paid and not money.fully_paid and not Practice.get().credits_available_at_issue:
        deactivate_lots(locked, epoch=current_epoch(locked), by=by, reason=reason)
    set_status(locked, status_for(locked, money), by=by)
    audit.record(payment, AuditEntry.Action.UPDATE,
                 {"reversed": ["", reason]}, by=by)
    return payment


@transaction.atomic
def record_refund(invoice: Invoice | int, *, amount: Money, refunded_on: datetime.date,
                  method: str, reference: str = "", by: Any) -> Refund:
    """Money paid back to the patient; never more than the practice owes them."""
    locked = lock_issued(invoice)
    owed = figures(locked).owed_to_patient
    if amount.amount <= 0:
        raise PaymentError(_("A refund must be more than zero."))
    if amount.amount > owed.amount:
        raise PaymentError(_("Only %(owed)s is to be refunded on this invoice.")
                           % {"owed": owed})
    refund = Refund.objects.create(
        invoice=locked, amount=eur(amount.amount), refunded_on=refunded_on, method=method,
        reference=reference, created_by=by if getattr(by, "pk", None) else None)
    set_status(locked, status_for(locked, figures(locked)), by=by)
    audit.record(refund, AuditEntry.Action.CREATE,
                 {"amount": ["", str(refund.amount)], "method": ["", method],
                  "reference": ["", reference]}, by=by)
    return refund


def queue_paid_email(invoice: Invoice, payment: Payment, *, epoch: int, by: Any) -> None:
    """The payment-received email, once per invoice and completion epoch."""
    patient = invoice.patient
    lines = [li for li in invoice.lines.all() if li.package_id]
    available = int(CreditBalance.objects.filter(
        patient=patient, package_id__in={li.package_id for li in lines}).aggregate(
        n=Sum("available"))["n"] or 0)
    queue_email(
        event=Event.PAYMENT_RECEIVED, to=patient.email, language=invoice.language,
        patient=patient, related=invoice, by=by,
        idempotency_key=f"payment_received:{invoice.pk}:{epoch}",
        context={
            "invoice_number": invoice.number, "amount_paid": figures(invoice).paid,
            "package_name": ", ".join(sorted({str(li.package) for li in lines})),
            "credits": sum(li.credits for li in lines), "credits_available": available,
        },
    )


def refunds_to_make() -> list[tuple[Invoice, Figures]]:
    """Issued invoices on which the practice still owes the patient money."""
    candidates = with_money(Invoice.objects.exclude(status=Status.DRAFT).filter(
        pk__in=Payment.objects.values("invoice")).select_related("patient")
    ).order_by("issue_date", "pk")
    rows = [(inv, figures(inv)) for inv in candidates]
    return [(inv, money) for inv, money in rows if money.owed_to_patient.amount > 0]
