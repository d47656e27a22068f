from __future__ import annotations

from decimal import Decimal
from typing import cast

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from djmoney.models.fields import MoneyField
from djmoney.models.validators import MaxMoneyValidator, MinMoneyValidator
from djmoney.money import Money

from core.money import per_unit


class Account(models.Model):
    """A line of the practice's chart of accounts (grootboekrekening / balanspost)."""

    class Kind(models.TextChoices):
        REVENUE = "revenue", _("Revenue")
        BALANCE_SHEET = "balance_sheet", _("Balance sheet")

    code = models.CharField(_("code"), max_length=20, unique=True)
    name = models.CharField(_("name"), max_length=120)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("account")
        verbose_name_plural = _("chart of accounts")

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class VatTreatment(models.TextChoices):
    EXEMPT = "exempt", _("Exempt (medical care)")
    LOW = "9", _("9 %")
    HIGH = "21", _("21 %")


VAT_RATES = {VatTreatment.EXEMPT: Decimal("0"), VatTreatment.LOW: Decimal("9"),
             VatTreatment.HIGH: Decimal("21")}


class Product(models.Model):
    """What is sold and invoiced; a product that links a package carries its credits."""

    code = models.CharField(_("code"), max_length=30, unique=True)
    name = models.CharField(_("name"), max_length=120)
    price = MoneyField(
        _("price"), max_digits=10, decimal_places=2, default_currency="EUR",
        currency_choices=[("EUR", "EUR")],
        validators=[MinMoneyValidator(0), MaxMoneyValidator(1_000_000)],
        help_text=_("What the patient pays per unit, VAT included."),
    )
    vat_treatment = models.CharField(
        _("VAT"), max_length=10, choices=VatTreatment.choices, default=VatTreatment.EXEMPT
    )
    revenue_account = models.ForeignKey(
        Account, verbose_name=_("revenue account"), null=True, blank=True,
        on_delete=models.PROTECT, related_name="+",
    )
    package = models.ForeignKey(
        "packages.Package", verbose_name=_("package"), null=True, blank=True,
        on_delete=models.PROTECT, related_name="products",
    )
    credits_per_unit = models.PositiveIntegerField(
        _("number of credits"), null=True, blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(1000)],
    )
    email_template = models.ForeignKey(
        "communication.EmailTemplate", verbose_name=_("invoice email"), null=True, blank=True,
        on_delete=models.PROTECT, related_name="+",
        limit_choices_to={"event": "product_invoice"},
        help_text=_("Empty: the standard product-invoice email."),
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("product")
        verbose_name_plural = _("products")
        constraints = [
            models.CheckConstraint(
                name="product_credits_with_package",
                condition=(
                    models.Q(package__isnull=True, credits_per_unit__isnull=True)
                    | models.Q(package__isnull=False, credits_per_unit__gte=1)
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    @property
    def price_per_credit(self) -> Money | None:
        """1200 for 10 credits: 120 per credit (gross, VAT included)."""
        if self.package_id is None or not self.credits_per_unit:
            return None
        return per_unit(cast(Money, self.price), self.credits_per_unit)

# Invoices live in their own module; imported here so Django registers them.
from .invoice_models import Invoice, InvoiceCounter, InvoiceLine  # noqa: E402
from .payment_models import CreditNote, CreditNoteLine, Payment, Refund  # noqa: E402

__all__ = ["VAT_RATES", "Account", "CreditNote", "CreditNoteLine", "Invoice", "InvoiceCounter",
           "InvoiceLine", "Payment", "Product", "Refund", "VatTreatment"]
