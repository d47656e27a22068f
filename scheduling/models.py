from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from djmoney.models.fields import MoneyField
from djmoney.models.validators import MaxMoneyValidator, MinMoneyValidator


class AppointmentType(models.Model):
    """A standard appointment (standaard afspraak); may consume credits of one package."""

    name = models.CharField(_("name"), max_length=100)
    duration_minutes = models.PositiveSmallIntegerField(
        _("duration (minutes)"), default=30,
        validators=[MinValueValidator(5), MaxValueValidator(480)],
    )
    colour = models.CharField(
        _("colour"), max_length=7, default="#1f6f8b",
        validators=[RegexValidator(r"^#[0-9a-fA-F]{6}$", _("Use a colour like #1f6f8b."))],
    )
    price = MoneyField(
        _("price per visit"), max_digits=10, decimal_places=2, default_currency="EUR",
        currency_choices=[("EUR", "EUR")], null=True, blank=True,
        validators=[MinMoneyValidator(0), MaxMoneyValidator(1_000_000)],
    )
    package = models.ForeignKey(
        "packages.Package", verbose_name=_("package"), null=True, blank=True,
        on_delete=models.PROTECT, related_name="appointment_types",
    )
    credits = models.PositiveSmallIntegerField(
        _("credits per appointment"), null=True, blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("appointment type")
        verbose_name_plural = _("standard appointments")
        constraints = [
            models.CheckConstraint(
                name="type_credits_with_package",
                condition=(
                    models.Q(package__isnull=True, credits__isnull=True)
                    | models.Q(package__isnull=False, credits__gte=1)
                ),
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Appointment(models.Model):
    class Status(models.TextChoices):
        BOOKED = "booked", _("Booked")
        ATTENDED = "attended", _("Attended")
        CANCELLED = "cancelled", _("Cancelled")
        LATE_CANCELLED = "late_cancelled", _("Late cancelled")
        NO_SHOW = "no_show", _("No-show")

    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="appointments"
    )
    practitioner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="appointments"
    )
    type = models.ForeignKey(AppointmentType, on_delete=models.PROTECT, related_name="+")
    start = models.DateTimeField(_("start"))
    end = models.DateTimeField(_("end"))
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.BOOKED)
    note = models.TextField(_("note"), blank=True)
    idempotency_key = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["start"]
        verbose_name = _("appointment")
        verbose_name_plural = _("appointments")
        indexes = [
            models.Index(fields=["practitioner", "start"]),
            models.Index(fields=["patient", "start"]),
        ]
        constraints = [
            models.CheckConstraint(name="appointment_end_after_start",
                                   condition=models.Q(end__gt=models.F("start"))),
        ]

    def __str__(self) -> str:
        return f"{self.patient} {self.start:%Y-%m-%d %H:%M}"
