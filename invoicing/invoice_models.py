"""Product invoices (DOMAIN.md rule 6): drafts, then immutable numbered snapshots.

A draft names a patient and products; issuing (invoicing.invoices.issue_invoice) numbers it
from a locked counter row, copies the practice's, the patient's and every line's data onto
the invoice and freezes it. From then on the model, the admin and a database trigger refuse
to change its legal content; only its status and its PDF's state move on.
"""

from __future__ import annotations

import datetime
import secrets
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from djmoney.models.fields import MoneyField
from djmoney.money import Money

from .models import Product, VatTreatment


def money_field(verbose_name: Any = None) -> MoneyField:
    return MoneyField(verbose_name, max_digits=12, decimal_places=2, default=Decimal("0.00"),
                      default_currency="EUR", currency_choices=[("EUR", "EUR")])


def pdf_path(invoice: Invoice, filename: str) -> str:
    # A random folder: knowing a number is not enough to guess where its PDF lives.
    return f"invoices/{invoice.year}/{secrets.token_urlsafe(12)}/{filename}"


class InvoiceImmutable(Exception):
    """An issued invoice was about to change or disappear."""


class InvoiceCounter(models.Model):
    """The last number issued in a year. Locked at issue, so numbers are gapless."""

    year = models.PositiveSmallIntegerField(unique=True)
    last_number = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.year}: {self.last_number}"


class Invoice(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        OPEN = "open", pgettext_lazy("invoice status", "Open")
        PAID = "paid", _("Paid")
        CREDITED = "credited", _("Credited")

    # Shown, never stored: an open invoice after its due date.
    OVERDUE = "overdue"

    class PdfState(models.TextChoices):
        NONE = "none", _("No PDF (draft)")
        PENDING = "pending", _("Being prepared")
        READY = "ready", _("Ready")
        FAILED = "failed", _("Failed")

    # What may still change on an issued invoice (payments and credit notes move the status).
    MUTABLE_AFTER_ISSUE = frozenset(
        {"status", "pdf", "pdf_state", "pdf_attempts", "pdf_error", "pdf_updated_at"}
    )

    patient = models.ForeignKey("patients.Patient", verbose_name=_("patient"),
                                on_delete=models.PROTECT, related_name="invoices")
    status = models.CharField(_("status"), max_length=10, choices=Status.choices,
                              default=Status.DRAFT)
    request_key = models.UUIDField(null=True, blank=True, unique=True, editable=False)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+")

    # Set at issue, frozen afterwards.
    year = models.PositiveSmallIntegerField(null=True, blank=True)
    sequence = models.PositiveIntegerField(null=True, blank=True)
    number = models.CharField(_("number"), max_length=32, blank=True)
    issue_date = models.DateField(_("invoice date"), null=True, blank=True)
    due_date = models.DateField(_("due date"), null=True, blank=True)
    issued_at = models.DateTimeField(null=True, blank=True)
    issued_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                  on_delete=models.PROTECT, related_name="+")
    payment_reference = models.CharField(_("payment reference"), max_length=25, blank=True)
    language = models.CharField(max_length=2, blank=True)
    seller = models.JSONField(default=dict, blank=True)  # the practice, as it was
    buyer = models.JSONField(default=dict, blank=True)  # the patient, as they were
    exemption_text = models.TextField(blank=True)

    # Kept current while a draft, frozen at issue.
    total = money_field(_("total"))
    total_net = money_field(_("total excluding VAT"))
    total_vat = money_field(_("VAT"))

    pdf = models.FileField(upload_to=pdf_path, blank=True, max_length=200)
    pdf_state = models.CharField(max_length=10, choices=PdfState.choices, default=PdfState.NONE)
    pdf_attempts = models.PositiveSmallIntegerField(default=0)
    pdf_error = models.TextField(blank=True)
    pdf_updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("invoice")
        verbose_name_plural = _("invoices")
        indexes = [
            models.Index(fields=["status", "due_date"]),
            models.Index(fields=["-issue_date", "-sequence"]),
            models.Index(fields=["pdf_state", "pdf_updated_at"]),
        ]
        constraints = [
            models.UniqueConstraint(fields=["year", "sequence"], name="invoice_number_per_year"),
            models.UniqueConstraint(fields=["number"], condition=~models.Q(number=""),
                                    name="invoice_number_unique"),
            models.CheckConstraint(
                name="invoice_numbered_when_issued",
                condition=(
                    models.Q(status="draft", sequence__isnull=True, number="")
                    | (~models.Q(status="draft") & models.Q(
                        sequence__gte=1, year__isnull=False, issue_date__isnull=False,
                        due_date__isnull=False) & ~models.Q(number=""))
                ),
            ),
        ]

    def __str__(self) -> str:
        return self.number or str(_("Draft invoice #%(pk)s") % {"pk": self.pk})

    # ------------------------------------------------------------------ immutability

    def save(self, *args: Any, **kwargs: Any) -> None:
        stored = self.stored_status()
        if stored not in (None, self.Status.DRAFT):
            fields = kwargs.get("update_fields")
            if fields is None or not set(fields) <= self.MUTABLE_AFTER_ISSUE:
                raise InvoiceImmutable(
                    _("Invoice %(number)s has been issued and can no longer be changed; "
                      "correct it with a credit note.") % {"number": self.number})
            if self.status == self.Status.DRAFT:
                raise InvoiceImmutable(_("An issued invoice cannot become a draft again."))
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        if self.stored_status() not in (None, self.Status.DRAFT):
            raise InvoiceImmutable(
                _("Invoice %(number)s has been issued and can never be deleted.")
                % {"number": self.number})
        return super().delete(*args, **kwargs)

    def stored_status(self) -> str | None:
        if self.pk is None or self._state.adding:
            return None
        status: str | None = (
            Invoice.objects.filter(pk=self.pk).values_list("status", flat=True).first()
        )
        return status

    # ------------------------------------------------------------------ reading

    @property
    def is_draft(self) -> bool:
        return self.status == self.Status.DRAFT

    def display_status(self, today: datetime.date | None = None) -> str:
        today = today or timezone.localdate()
        if self.status == self.Status.OPEN and self.due_date and self.due_date < today:
            return self.OVERDUE
        return str(self.status)

    def display_status_label(self) -> str:
        status = self.display_status()
        if status == self.OVERDUE:
            return str(_("Overdue"))
        return str(self.Status(status).label)

    @property
    def payment_reference_display(self) -> str:
        """RF18 2026 0000 1: in groups of four, as banks print it."""
        ref = self.payment_reference
        return " ".join(ref[i:i + 4] for i in range(0, len(ref), 4))

    def rate_totals(self) -> list[Any]:
        """Per VAT rate the sums of the lines' stored amounts (what the document shows)."""
        from .vat import stored_rate_totals

        return stored_rate_totals(self.lines.all())

    @property
    def open_amount(self) -> Money | None:
        """What the patient still owes (never below zero); see invoicing.payments.figures."""
        if self.is_draft:
            return None
        from .payments import figures

        return figures(self).open


class InvoiceLine(models.Model):
    """One product line. Quantity and discount are chosen; the rest is copied from the
    product and computed (invoicing.vat), refreshed while a draft and frozen at issue."""

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveSmallIntegerField()
    product = models.ForeignKey(Product, verbose_name=_("product"), on_delete=models.PROTECT,
                                related_name="+")
    quantity = models.PositiveIntegerField(
        _("quantity"), default=1, validators=[MinValueValidator(1), MaxValueValidator(999)])
    discount_percent = models.DecimalField(
        _("discount %"), max_digits=5, decimal_places=2, default=Decimal("0.00"),
        validators=[MinValueValidator(0), MaxValueValidator(100)])

    code = models.CharField(_("code"), max_length=30)
    description = models.CharField(_("description"), max_length=200)
    unit_price = money_field(_("unit price"))
    vat_treatment = models.CharField(_("VAT"), max_length=10, choices=VatTreatment.choices)
    vat_rate = models.DecimalField(max_digits=4, decimal_places=2)
    gross = money_field(_("amount"))
    net = money_field(_("amount excluding VAT"))
    vat = money_field(_("VAT"))
    package = models.ForeignKey("packages.Package", null=True, blank=True,
                                on_delete=models.PROTECT, related_name="+")
    credits_per_unit = models.PositiveIntegerField(null=True, blank=True)
    credit_lot = models.OneToOneField("packages.CreditLot", null=True, blank=True,
                                      on_delete=models.PROTECT, related_name="invoice_line")

    class Meta:
        ordering = ["invoice", "position"]
        constraints = [
            models.UniqueConstraint(fields=["invoice", "position"], name="line_position"),
            models.CheckConstraint(name="line_quantity_positive",
                                   condition=models.Q(quantity__gte=1)),
            models.CheckConstraint(
                name="line_discount_range",
                condition=models.Q(discount_percent__gte=0, discount_percent__lte=100)),
            models.CheckConstraint(
                name="line_credits_with_package",
                condition=(models.Q(package__isnull=True, credits_per_unit__isnull=True)
                           | models.Q(package__isnull=False, credits_per_unit__gte=1))),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.description}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        self._refuse_unless_draft()
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        self._refuse_unless_draft()
        return super().delete(*args, **kwargs)

    @property
    def vat_label(self) -> str:
        from .vat import short_label

        return short_label(self.vat_treatment)

    @property
    def credits(self) -> int:
        return self.quantity * (self.credits_per_unit or 0)

    def _refuse_unless_draft(self) -> None:
        status = Invoice.objects.filter(pk=self.invoice_id).values_list(
            "status", flat=True).first()
        if status not in (None, Invoice.Status.DRAFT):
            raise InvoiceImmutable(_("The lines of an issued invoice cannot change."))
