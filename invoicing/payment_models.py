"""Payments, credit notes and refunds of product invoices (DOMAIN.md rules 6 and 7).

A payment is never edited or deleted: a bank reversal marks it reversed, with a reason. A
credit note is an immutable numbered document from the invoice's gapless series with
negated lines; a refund records money paid back to the patient. The write path is
invoicing.payments and invoicing.credit_notes.
"""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from .invoice_models import Invoice, InvoiceLine, money_field
from .models import VatTreatment


class Method(models.TextChoices):
    BANK_TRANSFER = "bank_transfer", _("Bank transfer")
    PIN = "pin", _("PIN")
    CASH = "cash", _("Cash")
    IDEAL = "ideal", _("iDEAL")
    OTHER = "other", _("Other")


class Payment(models.Model):
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="payments")
    amount = money_field(_("amount"))
    paid_on = models.DateField(_("date"))
    method = models.CharField(_("method"), max_length=20, choices=Method.choices)
    reference = models.CharField(_("reference"), max_length=100, blank=True)
    request_key = models.UUIDField(null=True, blank=True, unique=True, editable=False)
    # The payment-completion epoch this payment started (the n-th time the invoice became
    # fully paid), so activation keys differ after a reversal and a new payment.
    completed_epoch = models.PositiveIntegerField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+")
    reversed_at = models.DateTimeField(null=True, blank=True)
    reversed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="+")
    reversal_reason = models.TextField(_("reason"), blank=True)

    class Meta:
        ordering = ["paid_on", "pk"]
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        constraints = [
            models.CheckConstraint(name="payment_amount_positive",
                                   condition=models.Q(amount__gt=0)),
            models.CheckConstraint(
                name="payment_reversal_has_reason",
                condition=models.Q(reversed_at__isnull=True)
                | ~models.Q(reversal_reason="")),
        ]

    def __str__(self) -> str:
        return f"{self.invoice} · {self.amount}"

    @property
    def is_reversed(self) -> bool:
        return self.reversed_at is not None


def credit_note_pdf_path(note: CreditNote, filename: str) -> str:
    return f"credit-notes/{note.year}/{secrets.token_urlsafe(12)}/{filename}"


class CreditNote(models.Model):
    """A correction of an issued invoice; amounts are negative, as printed."""

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="credit_notes")
    year = models.PositiveSmallIntegerField()
    sequence = models.PositiveIntegerField()
    number = models.CharField(_("number"), max_length=32, unique=True)
    issue_date = models.DateField(_("date"))
    issued_at = models.DateTimeField()
    issued_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                  on_delete=models.PROTECT, related_name="+")
    reason = models.TextField(_("reason"), blank=True)
    language = models.CharField(max_length=2)
    seller = models.JSONField(default=dict)
    buyer = models.JSONField(default=dict)
    exemption_text = models.TextField(blank=True)
    total = money_field(_("total"))
    total_net = money_field(_("total excluding VAT"))
    total_vat = money_field(_("VAT"))
    pdf = models.FileField(upload_to=credit_note_pdf_path, blank=True, max_length=200)
    # The form's key: a double submit finds the note the first submit made.
    request_key = models.UUIDField(null=True, blank=True, unique=True, editable=False)
    # Set when this note left an invoice that was not fully paid with nothing owed: its
    # lots' remaining pending credits were activated under this payment-completion epoch.
    completed_epoch = models.PositiveIntegerField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-issue_date", "-sequence"]
        verbose_name = _("credit note")
        verbose_name_plural = _("credit notes")
        constraints = [
            models.UniqueConstraint(fields=["year", "sequence"], name="credit_note_per_year"),
            models.CheckConstraint(name="credit_note_not_positive",
                                   condition=models.Q(total__lte=0)),
        ]

    def __str__(self) -> str:
        return self.number

    def rate_totals(self) -> list[Any]:
        """Per VAT rate the sums of the lines' stored amounts (what the document shows)."""
        from .vat import stored_rate_totals

        return stored_rate_totals(self.lines.all())


class CreditNoteLine(models.Model):
    """The credited part of one invoice line: units, or credits for a package line."""

    credit_note = models.ForeignKey(CreditNote, on_delete=models.PROTECT, related_name="lines")
    invoice_line = models.ForeignKey(InvoiceLine, on_delete=models.PROTECT,
                                     related_name="credit_lines")
    position = models.PositiveSmallIntegerField()
    code = models.CharField(_("code"), max_length=30)
    description = models.CharField(_("description"), max_length=200)
    quantity = models.PositiveIntegerField(_("quantity"))
    credits = models.PositiveIntegerField(_("credits"), default=0)
    vat_treatment = models.CharField(_("VAT"), max_length=10, choices=VatTreatment.choices)
    vat_rate = models.DecimalField(max_digits=4, decimal_places=2)
    gross = money_field(_("amount"))
    net = money_field(_("amount excluding VAT"))
    vat = money_field(_("VAT"))

    class Meta:
        ordering = ["credit_note", "position"]
        constraints = [
            models.UniqueConstraint(fields=["credit_note", "position"],
                                    name="credit_line_position"),
            models.CheckConstraint(name="credit_line_quantity_positive",
                                   condition=models.Q(quantity__gte=1)),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.description}"

    @property
    def vat_label(self) -> str:
        from .vat import short_label

        return short_label(self.vat_treatment)


class Refund(models.Model):
    """Money paid back to the patient (what a credit note or an over-payment left owed)."""

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="refunds")
    amount = money_field(_("amount"))
    refunded_on = models.DateField(_("date"))
    method = models.CharField(_("method"), max_length=20, choices=Method.choices)
    reference = models.CharField(_("reference"), max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["refunded_on", "pk"]
        verbose_name = _("refund")
        verbose_name_plural = _("refunds")
        constraints = [
            models.CheckConstraint(name="refund_amount_positive",
                                   condition=models.Q(amount__gt=0)),
        ]

    def __str__(self) -> str:
        return f"{self.invoice} · {self.amount}"
