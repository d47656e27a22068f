from __future__ import annotations

import datetime

from django.conf import settings
from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import DateTimeRangeField, RangeBoundary, RangeOperators
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone
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


class TsTzRange(models.Func):
    function = "TSTZRANGE"
    output_field = DateTimeRangeField()


class Appointment(models.Model):
    class Status(models.TextChoices):
        BOOKED = "booked", _("Booked")
        ATTENDED = "attended", _("Attended")
        CANCELLED = "cancelled", _("Cancelled")
        LATE_CANCELLED = "late_cancelled", _("Late cancelled")
        NO_SHOW = "no_show", _("No-show")

    class CancelledBy(models.TextChoices):
        PATIENT = "patient", _("The patient")
        PRACTICE = "practice", _("The practice")

    #: statuses that occupy the practitioner's time (the exclusion constraint's condition)
    ACTIVE = (Status.BOOKED, Status.ATTENDED, Status.NO_SHOW)
    CANCELLED_STATUSES = (Status.CANCELLED, Status.LATE_CANCELLED)

    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="appointments",
        verbose_name=_("patient"),
    )
    practitioner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="appointments",
        verbose_name=_("practitioner"),
    )
    type = models.ForeignKey(
        AppointmentType, on_delete=models.PROTECT, related_name="+",
        verbose_name=_("appointment type"),
    )
    start = models.DateTimeField(_("start"))
    end = models.DateTimeField(_("end"))
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.BOOKED
    )
    note = models.TextField(_("note"), blank=True)
    idempotency_key = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    cancelled_by = models.CharField(
        _("cancelled by"), max_length=10, choices=CancelledBy.choices, blank=True
    )
    cancel_reason = models.TextField(_("reason for cancelling"), blank=True)
    # Who last changed the status and when; no user means the automatic attended rule.
    status_changed_at = models.DateTimeField(null=True, blank=True)
    status_changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
        related_name="+",
    )

    class Meta:
        ordering = ["start"]
        verbose_name = _("appointment")
        verbose_name_plural = _("appointments")
        indexes = [
            models.Index(fields=["practitioner", "start"]),
            models.Index(fields=["patient", "start"]),
            models.Index(fields=["status", "start"]),
        ]
        constraints = [
            models.CheckConstraint(name="appointment_end_after_start",
                                   condition=models.Q(end__gt=models.F("start"))),
            # A practitioner is never double-booked, also under concurrent bookings.
            ExclusionConstraint(
                name="appointment_practitioner_no_overlap",
                expressions=[
                    ("practitioner", RangeOperators.EQUAL),
                    (TsTzRange("start", "end", RangeBoundary()), RangeOperators.OVERLAPS),
                ],
                condition=models.Q(status__in=["booked", "attended", "no_show"]),
            ),
            models.CheckConstraint(
                name="appointment_cancel_fields",
                condition=(
                    models.Q(status__in=["cancelled", "late_cancelled"])
                    & ~models.Q(cancelled_by="")
                )
                | (~models.Q(status__in=["cancelled", "late_cancelled"])
                   & models.Q(cancelled_by="")),
            ),
        ]

    def __str__(self) -> str:
        start = timezone.localtime(self.start)
        return f"{self.patient} {start:%Y-%m-%d %H:%M}"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE

    @property
    def is_cancelled(self) -> bool:
        return self.status in self.CANCELLED_STATUSES


class WorkingHours(models.Model):
    """When a practitioner works on one weekday; one span per weekday."""

    class Weekday(models.IntegerChoices):
        MONDAY = 0, _("Monday")
        TUESDAY = 1, _("Tuesday")
        WEDNESDAY = 2, _("Wednesday")
        THURSDAY = 3, _("Thursday")
        FRIDAY = 4, _("Friday")
        SATURDAY = 5, _("Saturday")
        SUNDAY = 6, _("Sunday")

    practitioner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="working_hours"
    )
    weekday = models.PositiveSmallIntegerField(_("weekday"), choices=Weekday.choices)
    start = models.TimeField(_("from"))
    end = models.TimeField(_("until"))

    class Meta:
        ordering = ["practitioner", "weekday"]
        verbose_name = _("working hours")
        verbose_name_plural = _("working hours")
        constraints = [
            models.UniqueConstraint(fields=["practitioner", "weekday"],
                                    name="working_hours_one_span_per_day"),
            models.CheckConstraint(name="working_hours_end_after_start",
                                   condition=models.Q(end__gt=models.F("start"))),
            models.CheckConstraint(name="working_hours_weekday",
                                   condition=models.Q(weekday__gte=0, weekday__lte=6)),
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.start:%H:%M}–{self.end:%H:%M}"

    def covers(self, moment: datetime.time) -> bool:
        return self.start <= moment < self.end
