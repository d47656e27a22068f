from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _
from djmoney.models.fields import MoneyField
from djmoney.models.validators import MaxMoneyValidator, MinMoneyValidator


class Outcome(models.TextChoices):
    FORFEIT = "forfeit", _("Forfeit (credit is used)")
    RETURN = "return", _("Return (credit goes back)")


class ValidityUnit(models.TextChoices):
    NONE = "none", _("No expiry")
    DAYS = "days", _("Days")
    MONTHS = "months", _("Months")


class Package(models.Model):
    """A kind of prepaid credit, e.g. "Fysio 10×" (DOMAIN.md)."""

    name = models.CharField(_("name"), max_length=100)
    internal_rate = MoneyField(
        _("internal rate"), max_digits=10, decimal_places=2, default_currency="EUR",
        currency_choices=[("EUR", "EUR")],
        validators=[MinMoneyValidator(0), MaxMoneyValidator(1_000_000)],
    )
    ledger_account = models.ForeignKey(
        "invoicing.Account", verbose_name=_("ledger account"), null=True, blank=True,
        on_delete=models.PROTECT, related_name="+",
    )
    balance_sheet_item = models.ForeignKey(
        "invoicing.Account", verbose_name=_("balance-sheet item"), null=True, blank=True,
        on_delete=models.PROTECT, related_name="+",
    )
    is_active = models.BooleanField(_("active"), default=True)
    free_cancel_hours = models.PositiveSmallIntegerField(
        _("free cancellation up to (hours before)"), default=24,
        validators=[MaxValueValidator(24 * 14)],
    )
    late_cancel_outcome = models.CharField(
        _("late cancellation"), max_length=10, choices=Outcome.choices, default=Outcome.FORFEIT
    )
    no_show_outcome = models.CharField(
        _("no-show"), max_length=10, choices=Outcome.choices, default=Outcome.FORFEIT
    )
    validity_unit = models.CharField(
        _("validity"), max_length=10, choices=ValidityUnit.choices, default=ValidityUnit.NONE
    )
    validity_count = models.PositiveSmallIntegerField(
        _("valid for"), null=True, blank=True, validators=[MinValueValidator(1)]
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("package")
        verbose_name_plural = _("packages")
        constraints = [
            models.UniqueConstraint(
                Lower("name"), condition=models.Q(is_active=True),
                name="package_active_name_unique",
                violation_error_message=_("An active package with this name already exists."),
            ),
            # Lots snapshot these terms, so the pair must always make sense.
            models.CheckConstraint(
                name="package_validity_consistent",
                condition=(
                    models.Q(validity_unit=ValidityUnit.NONE, validity_count__isnull=True)
                    | (~models.Q(validity_unit=ValidityUnit.NONE)
                       & models.Q(validity_count__gte=1))
                ),
                violation_error_message=_("Give the validity as a number of days or months."),
            ),
        ]

    def __str__(self) -> str:
        return self.name


# The credit ledger lives in its own module; imported here so Django registers it.
from .ledger_models import CreditBalance, CreditEntry, CreditLot, LedgerCheck  # noqa: E402

__all__ = ["CreditBalance", "CreditEntry", "CreditLot", "LedgerCheck", "Outcome", "Package",
           "ValidityUnit"]
