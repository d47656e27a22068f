"""Patients, appointment types, appointments and working hours for the calendar tests."""

from __future__ import annotations

import datetime
import itertools
import uuid
from typing import Any

from django.contrib.auth.models import User
from django.utils import timezone

from patients.models import Patient
from scheduling import services
from scheduling.models import Appointment, AppointmentType, WorkingHours

_counter = itertools.count(1)


def at(day: datetime.date | str, time: str) -> datetime.datetime:
    """An aware datetime in the practice's time zone."""
    if isinstance(day, str):
        day = datetime.date.fromisoformat(day)
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.fromisoformat(time)))


def patient(first_name: str = "Jan", last_name: str | None = None, **extra: Any) -> Patient:
    n = next(_counter)
    defaults: dict[str, Any] = {
        "date_of_birth": datetime.date(1980, 1, 1) + datetime.timedelta(days=n),
        "email": f"patient{n}@example.nl",
    }
    return Patient.objects.create(
        first_name=first_name, last_name=last_name or f"Jansen{n}", **(defaults | extra))


def appointment_type(name: str = "Behandeling", minutes: int = 30, **extra: Any) -> AppointmentType:
    return AppointmentType.objects.create(name=name, duration_minutes=minutes, **extra)


def working_week(user: User, start: str = "08:30", end: str = "17:00") -> None:
    for day in range(5):
        WorkingHours.objects.create(practitioner=user, weekday=day,
                                    start=datetime.time.fromisoformat(start),
                                    end=datetime.time.fromisoformat(end))


def book(
    *, practitioner: User, start: datetime.datetime, by: User, who: Patient | None = None,
    kind: AppointmentType | None = None, weeks: int = 1,
) -> list[Appointment]:
    return services.book_appointment(
        patient=who or patient(), practitioner=practitioner,
        appointment_type=kind or AppointmentType.objects.first() or appointment_type(),
        start=start, weeks=weeks, idempotency_key=uuid.uuid4().hex, by=by,
    )
