"""Reminders N hours before an appointment and warnings N days before credits expire:
each queued once, in the patient's language, the reminder with its .ics."""

from __future__ import annotations

import datetime

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from djmoney.money import Money

from communication.models import Event, OutgoingEmail
from communication.scheduled import queue_due_reminders, queue_expiry_warnings
from communication.services import ensure_default_templates
from core.models import Practice
from packages import ledger
from packages.models import Package
from patients.models import Patient
from scheduling.models import Appointment, AppointmentType

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def templates() -> None:
    ensure_default_templates()


def visit(patient: Patient, user: User, hours: float, status: str = "booked") -> Appointment:
    kind, _created = AppointmentType.objects.get_or_create(name="Intake")
    start = timezone.now() + datetime.timedelta(hours=hours)
    extra = {"cancelled_by": "practice"} if status == "cancelled" else {}
    return Appointment.objects.create(
        patient=patient, practitioner=user, type=kind, start=start, status=status,
        end=start + datetime.timedelta(minutes=30), idempotency_key=f"v{hours}{status}", **extra)


def test_reminders_go_once_to_booked_appointments_inside_the_window(admin: User) -> None:
    practice = Practice.get()
    practice.reminder_hours = 24
    practice.save()
    sanne = Patient.objects.create(first_name="Sanne", last_name="Bos", email="s@example.org",
                                   language="en")
    soon = visit(sanne, admin, 20)
    visit(sanne, admin, 30)  # outside the window
    visit(sanne, admin, 21, status="cancelled")
    Patient.objects.create(first_name="Zonder", last_name="Mail")
    assert queue_due_reminders() == 1
    assert queue_due_reminders() == 0  # the next run sends nothing twice
    email = OutgoingEmail.objects.get(event=Event.APPOINTMENT_REMINDER)
    assert email.to_email == "s@example.org" and email.language == "en"
    assert email.subject.startswith("Reminder")
    (ics,) = email.attachments.all()
    assert ics.filename.endswith(".ics")
    soon.start += datetime.timedelta(hours=1)  # rescheduled: reminded for the new time
    soon.end += datetime.timedelta(hours=1)
    soon.save()
    assert queue_due_reminders() == 1


def test_expiry_warning_once_per_lot_within_the_warning_days(admin: User) -> None:
    package = Package.objects.create(name="Fysio 10×", internal_rate=Money(60, "EUR"))
    piet = Patient.objects.create(first_name="Piet", last_name="Jansen", email="p@example.org")
    today = timezone.localdate()
    for days, key in ((10, "soon"), (40, "later")):
        ledger.grant_lot(patient=piet, package=package, credits=3,
                         value_total=Money(180, "EUR"), source="import", pending=False,
                         key=key, by=admin, expires_on=today + datetime.timedelta(days=days))
    assert queue_expiry_warnings() == 1
    assert queue_expiry_warnings() == 0
    email = OutgoingEmail.objects.get(event=Event.CREDITS_EXPIRING)
    assert "3" in email.body_text and "Fysio 10×" in email.body_text
