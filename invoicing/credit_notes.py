"""Credit notes (DOMAIN.md rules 6 and 7): the only correction of an issued invoice.

A credit note takes its number from the invoice counter (invoicing.invoices.take_number), so
invoices and credit notes share one gapless series. Its lines are negated shares of the
invoice's lines: for a package line, the credits the administrator chose, revoked in the
ledger at their lot's value; for another line, a number of its units. VAT is at the original
line's rate; crediting what is left of a line takes exactly its remaining amounts, so a line
credited in parts adds up.

Which credits of a package line may be credited: on a fully paid invoice its lot's available
credits; on an invoice not fully paid (unpaid or partly paid) also its pending credits, and
those first (the patient changed their mind before paying). Reserved and used credits never.
Credited pending credits leave the lot: a later payment activates only what is left. A credit
note that leaves a partly paid invoice with nothing owed completes it like a payment would:
a new payment-completion epoch, and the remaining pending credits become available.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from communication.attachments import Attachment, AttachmentFile, attachment_provider
from communication.models import Event
from communication.services import queue_email
from core import audit
from core.models import AuditEntry, Practice
from core.money import eur, to_cents
from packages import ledger

from .invoice_models import Invoice, InvoiceLine
from .invoices import lock, take_number
from .payment_models import CreditNote, CreditNoteLine
from .payments import activate_lots, current_epoch, set_status, status_for
from .payments import figures as money_of

HUNDRED = Decimal(100)


class CreditNoteError(Exception):
    """A rule refused the credit note; the message is for the user."""


@dataclass(frozen=True)
class Creditable:
    """What is left to credit of one invoice line."""

    line: InvoiceLine
    units_left: int  # units (other lines) or credits (package lines) not yet credited
    available: int  # package lines: credits of the lot available now
    pending: int = 0  # package lines: credits of the lot awaiting payment
    takes_pending: bool = False  # the invoice is not fully paid: pending ones go first

    @property
    def is_package(self) -> bool:
        return self.line.credit_lot_id is not None

    @property
    def maximum(self) -> int:
        if not self.is_package:
            return self.units_left
        return min(self.units_left,
                   self.available + (self.pending if self.takes_pending else 0))


def credited_before(line: InvoiceLine) -> tuple[int, Decimal, Decimal, Decimal]:
    """Units (or credits) and amounts of the line already credited (amounts positive)."""
    sums = CreditNoteLine.objects.filter(invoice_line=line).aggregate(
        q=Sum("quantity"), g=Sum("gross"), n=Sum("net"), v=Sum("vat"))
    return (int(sums["q"] or 0), -(sums["g"] or Decimal(0)), -(sums["n"] or Decimal(0)),
            -(sums["v"] or Decimal(0)))


def creditable(invoice: Invoice) -> list[Creditable]:
    unpaid = not money_of(invoice).fully_paid
    rows = []
    for line in invoice.lines.select_related("credit_lot").order_by("position"):
        done = credited_before(line)[0]
        whole = line.credits if line.credit_lot_id else line.quantity
        lot = line.credit_lot
        rows.append(Creditable(line, whole - done, lot.available if lot is not None else 0,
                               lot.pending if lot is not None else 0, unpaid))
    return rows


def amounts(line: InvoiceLine, count: int) -> tuple[Decimal, Decimal, Decimal]:
    """Positive (gross, net, vat) of crediting `count` units or credits of `line`."""
    done, gross_done, net_done, vat_done = credited_before(line)
    whole = line.credits if line.credit_lot_id else line.quantity
    gross: Decimal = line.gross.amount  # type: ignore[attr-defined]
    net_all: Decimal = line.net.amount  # type: ignore[attr-defined]
    vat_all: Decimal = line.vat.amount  # type: ignore[attr-defined]
    if done + count == whole:  # the rest of the line: exactly what is left
        return gross - gross_done, net_all - net_done, vat_all - vat_done
    if line.credit_lot is not None:
        # At their lot's value: the credits in order, the last one taking the remainder.
        net = sum(ledger.credit_values(line.credit_lot)[done:done + count], Decimal(0))
    else:
        net = to_cents(net_all * count / line.quantity)
    vat = to_cents(net * line.vat_rate / HUNDRED)
    return net + vat, net, vat


@transaction.atomic
def create_credit_note(invoice: Invoice | int, *, counts: dict[int, int], reason: str,
                       by: Any, request_key: uuid.UUID | None = None) -> CreditNote:
    """Credit `counts` (invoice line pk → units, or credits for a package line). A repeated
    `request_key` (a double submit) returns the note the first call made."""
    locked = lock(invoice)
    if request_key is not None:  # under the invoice's lock: a second submit waits for it
        done = CreditNote.objects.filter(request_key=request_key).first()
        if done is not None:
            return done
    if locked.is_draft:
        raise CreditNoteError(_("A draft has no number yet: change or delete it instead."))
    wanted = {pk: n for pk, n in counts.items() if n}
    if not wanted:
        raise CreditNoteError(_("Choose at least one line to credit."))
    rows = {row.line.pk: row for row in creditable(locked)}
    for pk, n in wanted.items():
        row = rows.get(pk)
        if row is None or n < 0:
            raise CreditNoteError(_("This line is not on the invoice."))
        if n > row.maximum:
            if row.is_package and row.takes_pending:
                raise CreditNoteError(
                    _("Only %(n)s credits of ‘%(line)s’ can be credited (%(pending)s awaiting "
                      "payment, %(available)s available); reserved and used credits cannot "
                      "be credited.")
                    % {"n": row.maximum, "line": row.line.description,
                       "pending": row.pending, "available": row.available})
            if row.is_package:
                raise CreditNoteError(
                    _("Only %(n)s credits of ‘%(line)s’ are available to credit; reserved "
                      "and used credits cannot be credited.")
                    % {"n": row.maximum, "line": row.line.description})
            raise CreditNoteError(_("Only %(n)s of ‘%(line)s’ are left to credit.")
                                  % {"n": row.maximum, "line": row.line.description})

    before = money_of(locked)
    was_paid = before.fully_paid
    now = timezone.now()
    issue_date = timezone.localdate()
    note = CreditNote(invoice=locked, issue_date=issue_date, issued_at=now,
                      issued_by=by if getattr(by, "pk", None) else None, reason=reason,
                      language=locked.language, seller=locked.seller, buyer=locked.buyer,
                      exemption_text=locked.exemption_text, request_key=request_key)
    made: list[CreditNoteLine] = []
    for position, (pk, n) in enumerate(sorted(wanted.items(),
                                              key=lambda kv: rows[kv[0]].line.position), 1):
        line = rows[pk].line
        gross, net, vat = amounts(line, n)
        made.append(CreditNoteLine(
            invoice_line=line, position=position, code=line.code, description=line.description,
            quantity=n, credits=n if line.credit_lot_id else 0,
            vat_treatment=line.vat_treatment, vat_rate=line.vat_rate,
            gross=eur(-gross), net=eur(-net), vat=eur(-vat)))
    note.total = eur(sum((li.gross.amount for li in made), Decimal(0)))  # type: ignore[attr-defined]
    note.total_net = eur(sum((li.net.amount for li in made), Decimal(0)))  # type: ignore[attr-defined]
    note.total_vat = eur(sum((li.vat.amount for li in made), Decimal(0)))  # type: ignore[attr-defined]

    # The number last, as at issue: the counter row is held until commit.
    year, sequence = take_number(issue_date)
    note.year, note.sequence = year, sequence
    note.number = f"{Practice.get().invoice_prefix}{year}-{sequence:05d}"
    # Nothing owed after this note on an invoice that was not fully paid: it completes it.
    if not was_paid and before.balance.amount + note.total.amount <= 0:  # type: ignore[attr-defined]
        note.completed_epoch = current_epoch(locked) + 1
    note.save()
    for li in made:
        li.credit_note = note
        li.save()
        lot = li.invoice_line.credit_lot
        if lot is not None:
            try:
                ledger.revoke(lot, li.credits, key=f"credit-note:{note.pk}:{li.invoice_line_id}",
                              by=by, reason=_("Credit note %(number)s") % {"number": note.number},
                              include_pending=not was_paid)
            except ledger.LedgerError as exc:  # a booking took them meanwhile: all rolls back
                raise CreditNoteError(str(exc)) from exc
    if note.completed_epoch is not None and not Practice.get().credits_available_at_issue:
        activate_lots(locked, epoch=note.completed_epoch, by=by)  # only what is still pending
    set_status(locked, status_for(locked, money_of(locked)), by=by)
    audit.record(note, AuditEntry.Action.CREATE,
                 {"number": ["", note.number], "invoice": ["", locked.number],
                  "total": ["", str(note.total)], "reason": ["", reason]}, by=by)
    queue_credit_note_email(note, by=by)
    return note


# ---------------------------------------------------------------------------- PDF and email

def store_pdf(note_pk: int) -> CreditNote:
    """Render the credit note's PDF once (the same renderer as invoices)."""
    from . import pdf

    with transaction.atomic():
        note = CreditNote.objects.select_for_update().get(pk=note_pk)
        if not note.pdf:
            note.pdf.save(f"{note.number}.pdf", ContentFile(pdf.render_credit_note(note)),
                          save=False)
            note.save(update_fields=["pdf"])
    return note


@attachment_provider
def credit_note_pdf_attachment(object_id: str) -> AttachmentFile:
    note = store_pdf(int(object_id))
    with note.pdf.open("rb") as handle:
        return AttachmentFile(f"{note.number}.pdf", handle.read(), "application/pdf")


def queue_credit_note_email(note: CreditNote, *, by: Any) -> None:
    invoice = note.invoice
    patient = invoice.patient
    lines = list(note.lines.select_related("invoice_line__package"))
    packages = {str(li.invoice_line.package) for li in lines if li.credits}
    queue_email(
        event=Event.CREDIT_NOTE, to=patient.email, language=note.language, patient=patient,
        related=invoice, by=by, idempotency_key=f"credit_note:{note.pk}",
        attachments=[Attachment.provided_by(credit_note_pdf_attachment, note.pk)],
        context={
            "credit_note_number": note.number, "credit_note_date": note.issue_date,
            "credit_note_total": eur(-note.total.amount),  # type: ignore[attr-defined]
            "invoice_number": invoice.number, "package_name": ", ".join(sorted(packages)),
            "credits": sum(li.credits for li in lines),
        },
    )
