"""The write path of product invoices: drafts, issue, and the PDF's state.

Issue, in one transaction: lock the draft, re-price it from the current products, snapshot
the practice and the patient, grant each package line its pending credit lot through the
ledger, and last take the number from the year's locked counter row, so a rollback gives the
number back and the numbers stay gapless. The PDF is rendered after commit by a Celery task
(invoicing.tasks) that calls `store_pdf`.
"""

from __future__ import annotations

import datetime
import hashlib
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from io import BytesIO
from typing import Any

from django.core.exceptions import SuspiciousFileOperation
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from stdnum import iso11649
from stdnum.iso7064 import mod_97_10

from communication.attachments import Attachment, AttachmentFile, attachment_provider
from communication.models import Event
from communication.services import queue_email, release
from core import audit
from core.models import AuditEntry, Practice
from core.money import eur
from packages import ledger

from . import vat
from .invoice_models import Invoice, InvoiceCounter, InvoiceLine
from .models import Product

logger = logging.getLogger(__name__)
Status = Invoice.Status
PdfState = Invoice.PdfState


class InvoiceError(Exception):
    """A rule refused the change; the message is for the user."""


@dataclass(frozen=True)
class LineData:
    product: Product
    quantity: int
    discount_percent: Decimal = Decimal("0.00")


# ---------------------------------------------------------------------------- pricing

def vat_line(key: Any, product: Product, quantity: int, discount: Decimal) -> vat.LineInput:
    unit_price: Decimal = product.price.amount  # type: ignore[attr-defined]
    return vat.LineInput(key, product.vat_treatment, unit_price, quantity, discount)


def price(lines: Sequence[LineData]) -> vat.Totals:
    """Totals of lines as the products stand now (for the form's live preview)."""
    return vat.compute([vat_line(i, li.product, li.quantity, li.discount_percent)
                        for i, li in enumerate(lines)])


def reprice(invoice: Invoice, lines: list[InvoiceLine]) -> vat.Totals:
    """Copy each product's current data onto its line and recompute all amounts."""
    totals = vat.compute([vat_line(li.pk, li.product, li.quantity, li.discount_percent)
                          for li in lines])
    for line, amounts in zip(lines, totals.lines, strict=True):
        product = line.product
        line.code, line.description = product.code, product.name
        line.unit_price = product.price
        line.vat_treatment, line.vat_rate = product.vat_treatment, amounts.rate
        line.gross, line.net, line.vat = eur(amounts.gross), eur(amounts.net), eur(amounts.vat)
        line.package_id = product.package_id
        line.credits_per_unit = product.credits_per_unit if product.package_id else None
        line.save(update_fields=["code", "description", "unit_price", "vat_treatment",
                                 "vat_rate", "gross", "net", "vat", "package",
                                 "credits_per_unit"])
    invoice.total, invoice.total_net, invoice.total_vat = (
        eur(totals.gross), eur(totals.net), eur(totals.vat))
    return totals


def summary(invoice: Invoice) -> dict[str, str]:
    """What the audit log shows of a draft."""
    lines = invoice.lines.order_by("position")
    return {
        "patient": str(invoice.patient),
        "lines": "; ".join(
            f"{li.quantity} × {li.code}"
            + (f" −{li.discount_percent.normalize()}%" if li.discount_percent else "")
            for li in lines),
        "total": str(invoice.total),
    }


def write_lines(invoice: Invoice, lines: Sequence[LineData]) -> None:
    if not lines:
        raise InvoiceError(_("Add at least one line."))
    invoice.lines.all().delete()
    made = [
        InvoiceLine(invoice=invoice, position=i + 1, product=line.product,
                    quantity=line.quantity, discount_percent=line.discount_percent,
                    vat_rate=Decimal(0))
        for i, line in enumerate(lines)
    ]
    for line in made:
        line.save()
    stored = list(invoice.lines.select_related("product").order_by("position"))
    reprice(invoice, stored)
    invoice.save(update_fields=["total", "total_net", "total_vat"])


# ---------------------------------------------------------------------------- drafts

@transaction.atomic
def create_draft(*, patient: Any, lines: Sequence[LineData], by: Any,
                 request_key: uuid.UUID | None = None) -> Invoice:
    """A new draft. A repeated request key (a double submit) returns the first draft."""
    if request_key is not None:
        done = Invoice.objects.filter(request_key=request_key).first()
        if done is not None:
            return done
    invoice = Invoice.objects.create(patient=patient, request_key=request_key,
                                     created_by=by if getattr(by, "pk", None) else None)
    write_lines(invoice, lines)
    audit.record(invoice, AuditEntry.Action.CREATE,
                 audit.diff({}, summary(invoice)), by=by)
    return invoice


def lock(invoice: Invoice | int) -> Invoice:
    pk = invoice if isinstance(invoice, int) else invoice.pk
    return Invoice.objects.select_for_update(of=("self",)).get(pk=pk)


def lock_draft(invoice: Invoice, version: int | None) -> Invoice:
    locked = lock(invoice)
    if not locked.is_draft:
        raise InvoiceError(
            _("Invoice %(number)s has already been issued; it can no longer be changed.")
            % {"number": locked.number})
    if version is not None and version != locked.version:
        raise InvoiceError(_(
            "Someone else changed this draft after you opened it. Reload the page to see "
            "their changes, then make yours again."))
    return locked


@transaction.atomic
def update_draft(invoice: Invoice, *, patient: Any, lines: Sequence[LineData],
                 version: int | None, by: Any) -> Invoice:
    locked = lock_draft(invoice, version)
    before = summary(locked)
    locked.patient = patient
    locked.version += 1
    locked.save(update_fields=["patient", "version"])
    write_lines(locked, lines)
    changes = audit.diff(before, summary(locked))
    if changes:
        audit.record(locked, AuditEntry.Action.UPDATE, changes, by=by)
    return locked


@transaction.atomic
def delete_draft(invoice: Invoice, *, by: Any) -> None:
    locked = lock_draft(invoice, None)
    audit.record(locked, AuditEntry.Action.DELETE, audit.diff(summary(locked), {}), by=by)
    locked.delete()


# ---------------------------------------------------------------------------- issue

def missing_practice_details(practice: Practice, *, taxed: bool) -> list[str]:
    """What Dutch invoice law needs from the practice and it has not filled in."""
    needed = [("name", _("name")), ("street", _("street and number")),
              ("postal_code", _("postal code")), ("city", _("city")),
              ("kvk_number", _("KvK number")), ("iban", _("IBAN"))]
    if taxed:
        needed.append(("vat_id", _("VAT id")))
    return [label for field, label in needed if not getattr(practice, field)]


def snapshot_logo(practice: Practice) -> str:
    """Copy the practice's logo to a content-addressed file the invoice keeps for good.

    Only an image read through the storage is taken: a stored name that points outside the
    media folder, or a file that is no image, leaves the invoice without a logo."""
    if not practice.logo:
        return ""
    try:
        with default_storage.open(practice.logo.name or "", "rb") as handle:
            data = handle.read(3 * 1024 * 1024)
    except (SuspiciousFileOperation, OSError, ValueError):
        logger.warning("practice logo %r cannot be read; invoice without logo",
                       practice.logo.name)
        return ""
    kind = image_kind(data)
    if not kind:
        logger.warning("practice logo %r is not an image; invoice without logo",
                       practice.logo.name)
        return ""
    name = f"invoices/logos/{hashlib.sha256(data).hexdigest()[:32]}.{kind}"
    if not default_storage.exists(name):
        default_storage.save(name, ContentFile(data))
    return name


def image_kind(data: bytes) -> str:
    head = data[:512].lstrip().lower()
    if head.startswith(b"<svg") or (head.startswith(b"<?xml") and b"<svg" in head):
        return "svg"
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(BytesIO(data)) as image:
            fmt = (image.format or "").lower()
    except (UnidentifiedImageError, OSError):
        return ""
    return {"png": "png", "jpeg": "jpg", "gif": "gif", "webp": "webp"}.get(fmt, "")


def seller_snapshot(practice: Practice) -> dict[str, Any]:
    return {
        "name": practice.name, "street": practice.street,
        "postal_code": practice.postal_code, "city": practice.city,
        "email": practice.email, "phone": practice.phone,
        "kvk_number": practice.kvk_number, "vat_id": practice.vat_id, "iban": practice.iban,
        "payment_term_days": practice.payment_term_days, "logo": snapshot_logo(practice),
    }


def buyer_snapshot(patient: Any) -> dict[str, Any]:
    return {
        "name": f"{patient.first_name} {patient.last_name}".strip(),
        "street": patient.street, "postal_code": patient.postal_code, "city": patient.city,
    }


def payment_reference(year: int, sequence: int) -> str:
    """ISO 11649 structured creditor reference (RF): digits only, easy to type."""
    body = f"{year}{sequence:05d}"
    reference = "RF" + mod_97_10.calc_check_digits(body + "RF") + body
    return iso11649.validate(reference)


def take_number(today: datetime.date) -> tuple[int, int]:
    """The next number of the year, from its counter row, locked until commit."""
    counter = InvoiceCounter.objects.select_for_update().filter(year=today.year).first()
    if counter is None:
        # ON CONFLICT DO NOTHING: two first issues of a year cannot both insert.
        InvoiceCounter.objects.bulk_create([InvoiceCounter(year=today.year)],
                                           ignore_conflicts=True)
        counter = InvoiceCounter.objects.select_for_update().get(year=today.year)
    counter.last_number += 1
    counter.save(update_fields=["last_number"])
    return today.year, counter.last_number


@transaction.atomic
def issue_invoice(invoice: Invoice, *, by: Any) -> Invoice:
    """Number, snapshot and freeze a draft; grant its pending credits; queue its PDF.
    Issuing an invoice that is already issued returns it unchanged (a double click)."""
    locked = lock(invoice)
    if not locked.is_draft:
        return locked
    lines = list(locked.lines.select_related("product").order_by("position"))
    if not lines:
        raise InvoiceError(_("Add at least one line before creating the invoice."))
    inactive = [line.product.code for line in lines if not line.product.is_active]
    if inactive:
        raise InvoiceError(_("These products are no longer sold: %(codes)s.")
                           % {"codes": ", ".join(inactive)})
    totals = reprice(locked, lines)
    practice = Practice.get()
    missing = missing_practice_details(practice, taxed=totals.has_taxed)
    if missing:
        raise InvoiceError(
            _("The practice details lack what an invoice must show: %(fields)s. An "
              "administrator completes them under Settings → Practice.")
            % {"fields": ", ".join(missing)})
    patient = locked.patient
    locked.language = patient.language or "nl"
    locked.seller = seller_snapshot(practice)
    locked.buyer = buyer_snapshot(patient)
    with translation.override(locked.language):
        locked.exemption_text = str(vat.EXEMPTION_TEXT) if totals.has_exempt else ""

    # Pending lots (DOMAIN.md rule 1); balances locked in package order, so two invoices
    # for one patient never wait on each other crosswise.
    for line in sorted((li for li in lines if li.package_id),
                       key=lambda li: (li.package_id, li.pk)):
        assert line.package is not None
        line.credit_lot = ledger.grant_lot(
            patient=patient, package=line.package, credits=line.credits,
            value_total=line.net, source="invoice", pending=True,
            key=f"invoice-line:{line.pk}", by=by)
        line.save(update_fields=["credit_lot"])
        if practice.credits_available_at_issue:  # issue 7: the practice's setting
            ledger.activate_lot(line.credit_lot, key=f"invoice-issue:{locked.pk}:{line.pk}",
                                by=by)

    # The number last: the counter row is held from here to commit, as briefly as can be.
    # The date is read under the lock, so dates rise with the numbers.
    issue_date = timezone.localdate()
    year, sequence = take_number(issue_date)
    locked.year, locked.sequence = year, sequence
    locked.number = f"{practice.invoice_prefix}{year}-{sequence:05d}"
    locked.issue_date = issue_date
    locked.due_date = issue_date + datetime.timedelta(days=practice.payment_term_days)
    locked.payment_reference = payment_reference(year, sequence)
    locked.issued_at = timezone.now()
    locked.issued_by = by if getattr(by, "pk", None) else None
    locked.status = Status.OPEN
    locked.pdf_state = PdfState.PENDING
    locked.pdf_updated_at = locked.issued_at
    locked.save()
    audit.record(locked, AuditEntry.Action.UPDATE,
                 {"status": [str(Status.DRAFT.label), str(Status.OPEN.label)],
                  "number": ["", locked.number]}, by=by)
    queue_pdf(locked)
    queue_invoice_email(locked, by=by)
    return locked


def queue_pdf(invoice: Invoice) -> None:
    from .tasks import render_invoice_pdf  # the task module imports this one

    render_invoice_pdf.delay_on_commit(invoice.pk)


# ---------------------------------------------------------------------------- the PDF

def store_pdf(invoice_pk: int) -> bool:
    """Render and keep the PDF, once. Returns whether this call rendered it."""
    from . import pdf  # WeasyPrint is heavy: only the worker loads it

    with transaction.atomic():
        invoice = Invoice.objects.select_for_update(of=("self",)).filter(pk=invoice_pk).first()
        if invoice is None or invoice.is_draft or invoice.pdf_state == PdfState.READY:
            return False
        data = pdf.render(invoice)
        invoice.pdf.save(f"{invoice.number}.pdf", ContentFile(data), save=False)
        invoice.pdf_state = PdfState.READY
        invoice.pdf_error = ""
        invoice.pdf_updated_at = timezone.now()
        invoice.save(update_fields=["pdf", "pdf_state", "pdf_error", "pdf_updated_at"])
    return True


@transaction.atomic
def pdf_attempt_failed(invoice_pk: int, *, error: str, final: bool) -> None:
    """Count a failed render on the row; the last allowed one marks the PDF failed."""
    invoice = Invoice.objects.select_for_update(of=("self",)).filter(pk=invoice_pk).first()
    if invoice is None or invoice.pdf_state == PdfState.READY:
        return
    invoice.pdf_attempts += 1
    invoice.pdf_error = error[:1000]
    invoice.pdf_updated_at = timezone.now()
    if final:
        invoice.pdf_state = PdfState.FAILED
    invoice.save(update_fields=["pdf_attempts", "pdf_error", "pdf_updated_at", "pdf_state"])


@transaction.atomic
def retry_pdf(invoice: Invoice, *, by: Any) -> Invoice:
    """The retry button: prepare the PDF again (harmless when it is on its way already)."""
    locked = lock(invoice)
    if locked.is_draft or locked.pdf_state == PdfState.READY:
        return locked
    before = locked.get_pdf_state_display()
    locked.pdf_state = PdfState.PENDING
    locked.pdf_attempts = 0
    locked.pdf_error = ""
    locked.pdf_updated_at = timezone.now()
    locked.save(update_fields=["pdf_state", "pdf_attempts", "pdf_error", "pdf_updated_at"])
    audit.record(locked, AuditEntry.Action.UPDATE,
                 {"pdf": [str(before), str(locked.get_pdf_state_display())]}, by=by)
    queue_pdf(locked)
    return locked


STALE_AFTER = datetime.timedelta(minutes=10)


def stale_pdf_invoices(now: datetime.datetime | None = None) -> list[int]:
    """Invoices whose PDF has waited too long (e.g. the broker was down at commit)."""
    cutoff = (now or timezone.now()) - STALE_AFTER
    return list(Invoice.objects.filter(pdf_state=PdfState.PENDING,
                                       pdf_updated_at__lt=cutoff).values_list("pk", flat=True))


# ---------------------------------------------------------------------------- the email

@attachment_provider
def invoice_pdf_attachment(object_id: str) -> AttachmentFile:
    """The invoice PDF for its email, rendered first when the PDF task has not run yet."""
    store_pdf(int(object_id))
    invoice = Invoice.objects.get(pk=int(object_id))
    with invoice.pdf.open("rb") as handle:
        return AttachmentFile(f"{invoice.number}.pdf", handle.read(), "application/pdf")


def invoice_email_key(invoice_pk: int) -> str:
    return f"product_invoice:{invoice_pk}"


def queue_invoice_email(invoice: Invoice, *, by: Any) -> None:
    """The product-invoice email (DOMAIN.md rule 8), in the issuing transaction. It is held
    until the PDF task has stored the PDF (`release_invoice_email`), so the email's worker
    never waits for a render under way in another; if the PDF task never comes, the outbox
    sweeper sends it, and its attachment renders the PDF then."""
    patient = invoice.patient
    lines = list(invoice.lines.select_related("product", "package").order_by("position"))
    package_lines = [line for line in lines if line.package_id]
    first_product = lines[0].product if lines else None
    queue_email(
        event=Event.PRODUCT_INVOICE, to=patient.email, language=invoice.language,
        patient=patient, related=invoice, product=first_product, by=by,
        idempotency_key=invoice_email_key(invoice.pk), hold=True,
        attachments=[Attachment.provided_by(invoice_pdf_attachment, invoice.pk)],
        context={
            "invoice_number": invoice.number, "invoice_date": invoice.issue_date,
            "invoice_total": invoice.total, "due_date": invoice.due_date,
            "iban": invoice.seller.get("iban", ""),
            "payment_reference": invoice.payment_reference,
            "package_name": ", ".join(sorted({str(li.package) for li in package_lines})),
            "credits": sum(li.credits for li in package_lines),
        },
    )


def release_invoice_email(invoice_pk: int) -> bool:
    """The PDF task is done (stored, or given up): the invoice email may go."""
    return release(invoice_email_key(invoice_pk))
