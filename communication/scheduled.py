"""Emails that time sends rather than an event: appointment reminders N hours before, and
warnings N days before credits expire (N from the practice's settings). Each is queued at
most once per appointment time or lot expiry, through the outbox's idempotency key."""

from __future__ import annotations

import datetime
from typing import Any

from django.db.models import Q
from django.utils import timezone

from core.models import Practice

from .ics import appointment_attachment
from .models import Event, OutgoingEmail
from .services import queue_email


def already_queued(key: str) -> bool:
    return OutgoingEmail.objects.filter(idempotency_key=key).exists()


def appointment_values(appointment: Any) -> dict[str, Any]:
    practitioner = appointment.practitioner
    return {
        "appointment_start": timezone.localtime(appointment.start),
        "appointment_type": appointment.type.name,
        "practitioner_name": practitioner.get_full_name() or practitioner.username,
    }


def queue_due_reminders(now: datetime.datetime | None = None) -> int:
    """Reminders for booked appointments that start within the practice's reminder window."""
    from scheduling.models import Appointment

    now = now or timezone.now()
    practice = Practice.get()
    window_end = now + datetime.timedelta(hours=practice.reminder_hours)
    due = (Appointment.objects.filter(status=Appointment.Status.BOOKED, start__gt=now,
                                      start__lte=window_end)
           .exclude(patient__email="").select_related("patient", "practitioner", "type"))
    queued = 0
    for appointment in due:
        patient = appointment.patient
        # The start is part of the key: a rescheduled appointment is reminded again.
        key = f"appointment_reminder:{appointment.pk}:{appointment.start:%Y%m%d%H%M}"
        if already_queued(key):
            continue
        ics = appointment_attachment(
            uid=f"appointment-{appointment.pk}@flux", start=appointment.start,
            end=appointment.end, summary=f"{appointment.type.name} · {practice.name}",
            location=", ".join(p for p in (practice.street, practice.city) if p))
        email = queue_email(event=Event.APPOINTMENT_REMINDER, to=patient.email,
                            language=patient.language, patient=patient, related=appointment,
                            idempotency_key=key, attachments=[ics],
                            context=appointment_values(appointment))
        queued += email is not None
    return queued


def queue_expiry_warnings(today: datetime.date | None = None) -> int:
    """One warning per lot with available credits that expire within the warning window."""
    from packages.ledger_models import CreditLot

    today = today or timezone.localdate()
    practice = Practice.get()
    horizon = today + datetime.timedelta(days=practice.expiry_warning_days)
    lots = (CreditLot.objects.filter(available__gt=0, expires_on__gte=today,
                                     expires_on__lte=horizon)
            .filter(~Q(balance__patient__email=""))
            .select_related("balance__patient", "balance__package"))
    queued = 0
    for lot in lots:
        patient = lot.balance.patient
        key = f"credits_expiring:{lot.pk}:{lot.expires_on}"
        if already_queued(key):
            continue
        email = queue_email(
            event=Event.CREDITS_EXPIRING, to=patient.email, language=patient.language,
            patient=patient, idempotency_key=key,
            context={"package_name": lot.balance.package.name,
                     "credits_expiring": lot.available, "expiry_date": lot.expires_on})
        queued += email is not None
    return queued


# ------------------------------------------------------------ emails of a booking's events
# Called by the scheduling services inside the booking's or cancellation's transaction.

def package_values(appointment: Any) -> dict[str, Any]:
    from packages.ledger import available_for

    package = appointment.type.package
    if package is None:
        return {"package_name": "", "credits_available": ""}
    return {"package_name": package.name,
            "credits_available": available_for(appointment.patient, package)}


def queue_appointment_email(appointment: Any, event: str) -> OutgoingEmail | None:
    """The confirmation or cancellation of one appointment, with the credits left."""
    patient = appointment.patient
    if not patient.email:
        return None
    values = appointment_values(appointment) | package_values(appointment)
    key = f"{event}:{appointment.pk}:{appointment.start:%Y%m%d%H%M}"
    email = queue_email(event=event, to=patient.email, language=patient.language,
                        patient=patient, related=appointment, idempotency_key=key,
                        context=values)
    package = appointment.type.package
    if (event == Event.APPOINTMENT_CONFIRMATION and package is not None
            and int(values["credits_available"]) <= 1):
        queue_email(event=Event.CREDITS_LOW, to=patient.email, language=patient.language,
                    patient=patient, idempotency_key=f"credits_low:{appointment.pk}",
                    context={"package_name": package.name,
                             "credits_available": values["credits_available"]})
    return email
