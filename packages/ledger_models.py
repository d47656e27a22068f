"""The credit ledger's tables: balances, lots and append-only entries (DOMAIN.md rules 1-5).

Counters on balances and lots are caches of the entries, kept in the same transaction by
packages.ledger (the only write path) and re-derived by `manage.py check_ledger`. The
database refuses negative counters (CHECK) and any UPDATE or DELETE of an entry (trigger).
"""

from __future__ import annotations

import re

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from djmoney.models.fields import MoneyField

from .models import Outcome, ValidityUnit

BUCKETS = ("pending", "available", "reserved", "used", "expired")
#: the key of an administrator's waiver of a forfeited credit (scheduling.services.waive_forfeit:
#: `<appointment key>/waive/<step>`, `:2`, `:3` … for further lots)
WAIVER_KEY = re.compile(r"/waive/\d+(:\d+)?$")


def non_negative(prefix: str) -> list[models.CheckConstraint]:
    return [
        models.CheckConstraint(
            name=f"{prefix}_{b}_not_negative", condition=models.Q(**{f"{b}__gte": 0})
        )
        for b in BUCKETS
    ]


class Counters(models.Model):
    pending = models.IntegerField(_("awaiting payment"), default=0)
    available = models.IntegerField(_("available"), default=0)
    reserved = models.IntegerField(_("reserved"), default=0)
    used = models.IntegerField(_("used"), default=0)
    expired = models.IntegerField(_("expired"), default=0)

    class Meta:
        abstract = True

    def counters(self) -> dict[str, int]:
        return {b: getattr(self, b) for b in BUCKETS}


class CreditBalance(Counters):
    """One row per patient and package: what booking locks, and what screens read."""

    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT,
                                related_name="credit_balances")
    package = models.ForeignKey("packages.Package", on_delete=models.PROTECT,
                                related_name="balances")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["patient", "package"], name="balance_patient_package"),
            *non_negative("balance"),
        ]

    def __str__(self) -> str:
        return f"{self.patient} · {self.package}"


class CreditLot(Counters):
    """Credits from one source, with the package's terms and value frozen at creation."""

    class Source(models.TextChoices):
        INVOICE = "invoice", _("Invoice")
        IMPORT = "import", _("Import")
        GRANT = "grant", _("Grant")

    balance = models.ForeignKey(CreditBalance, on_delete=models.PROTECT, related_name="lots")
    source = models.CharField(max_length=10, choices=Source.choices)
    credits = models.PositiveIntegerField(_("credits"))
    value_total = MoneyField(max_digits=12, decimal_places=2, default_currency="EUR",
                             currency_choices=[("EUR", "EUR")])
    # Snapshot of the package's terms (editing the package never changes sold lots).
    ledger_account = models.ForeignKey("invoicing.Account", null=True, on_delete=models.PROTECT,
                                       related_name="+")
    balance_sheet_item = models.ForeignKey("invoicing.Account", null=True,
                                           on_delete=models.PROTECT, related_name="+")
    free_cancel_hours = models.PositiveSmallIntegerField()
    late_cancel_outcome = models.CharField(max_length=10, choices=Outcome.choices)
    no_show_outcome = models.CharField(max_length=10, choices=Outcome.choices)
    validity_unit = models.CharField(max_length=10, choices=ValidityUnit.choices)
    validity_count = models.PositiveSmallIntegerField(null=True)
    activated_at = models.DateTimeField(null=True)
    expires_on = models.DateField(_("expires on"), null=True)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT,
                                   related_name="+")

    class Meta:
        ordering = ["pk"]
        indexes = [models.Index(fields=["balance", "expires_on"]),
                   models.Index(fields=["expires_on"], condition=models.Q(available__gt=0),
                                name="lot_expiring_available")]
        constraints = [
            models.CheckConstraint(name="lot_credits_positive", condition=models.Q(credits__gte=1)),
            models.CheckConstraint(name="lot_value_not_negative",
                                   condition=models.Q(value_total__gte=0)),
            *non_negative("lot"),
        ]

    def __str__(self) -> str:
        return f"{self.get_source_display()} #{self.pk}: {self.credits} × {self.balance.package}"


class CreditEntry(models.Model):
    """An append-only movement of credits between the buckets of one lot."""

    class Kind(models.TextChoices):
        GRANT = "grant", _("Granted")
        ACTIVATE = "activate", _("Paid: available")
        DEACTIVATE = "deactivate", _("Payment reversed")
        RESERVE = "reserve", _("Reserved")
        RELEASE = "release", _("Released")
        USE = "use", _("Used")
        EXPIRE = "expire", _("Expired")
        EXTEND = "extend", _("Expiry extended")
        ADJUST = "adjust", _("Adjusted")
        REVOKE = "revoke", _("Credited")
        REVERSE = "reverse", _("Reversed")

    lot = models.ForeignKey(CreditLot, on_delete=models.PROTECT, related_name="entries")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    credits = models.IntegerField()
    d_pending = models.IntegerField(default=0)
    d_available = models.IntegerField(default=0)
    d_reserved = models.IntegerField(default=0)
    d_used = models.IntegerField(default=0)
    d_expired = models.IntegerField(default=0)
    appointment = models.ForeignKey("scheduling.Appointment", null=True, on_delete=models.PROTECT,
                                    related_name="credit_entries")
    forfeited = models.BooleanField(default=False)
    expires_on = models.DateField(null=True)
    reason = models.TextField(blank=True)
    idempotency_key = models.CharField(max_length=120, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT,
                                   related_name="+")

    class Meta:
        ordering = ["pk"]
        indexes = [models.Index(fields=["lot", "appointment"]),
                   # A lot's last activation or deactivation (is its invoice unpaid again?).
                   models.Index(fields=["lot", "-id"], name="entry_lot_activation",
                                condition=models.Q(kind__in=["activate", "deactivate"]))]
        constraints = [
            models.CheckConstraint(name="entry_credits_not_negative",
                                   condition=models.Q(credits__gte=0)),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.credits}"

    def deltas(self) -> dict[str, int]:
        return {b: getattr(self, f"d_{b}") for b in BUCKETS}

    @property
    def is_waiver(self) -> bool:
        """A reversal that gave back a forfeited credit: an administrator's waiver."""
        return self.kind == self.Kind.REVERSE and bool(WAIVER_KEY.search(self.idempotency_key))


class LedgerCheck(models.Model):
    """The outcome of one reconciliation run (the nightly task): administrators see a notice
    while the latest one found differences."""

    ran_at = models.DateTimeField(_("checked at"), default=timezone.now)
    ok = models.BooleanField(_("consistent"))
    lots = models.PositiveIntegerField(default=0)
    entries = models.PositiveIntegerField(default=0)
    differences = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-ran_at", "-pk"]
        indexes = [models.Index(fields=["-ran_at", "-id"], name="ledgercheck_latest")]

    def __str__(self) -> str:
        return f"{self.ran_at:%Y-%m-%d %H:%M} {'ok' if self.ok else len(self.differences)}"
