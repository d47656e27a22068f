"""Small builders for the ledger tests: packages, patients, lots and appointments."""

from __future__ import annotations

import datetime
import itertools
from typing import Any

from django.contrib.auth.models import User
from django.utils import timezone
from djmoney.money import Money

from packages import ledger
from packages.ledger_models import CreditBalance, CreditLot
from packages.models import Package
from patients.models import Patient
from scheduling.models import Appointment, AppointmentType

_serial = itertools.count(1)


def package(name: str = "Fysio 10×", **terms: Any) -> Package:
    return Package.objects.create(name=name, internal_rate=Money(60, "EUR"), **terms)


def patient(first_name: str = "Piet") -> Patient:
    return Patient.objects.create(first_name=first_name, last_name="Jansen")


def practitioner(n: int = 0) -> User:
    """A practitioner per appointment: the ledger tests book freely, and the calendar's
    no-overlap constraint (tested in its own suite) must not get in their way."""
    user, _created = User.objects.get_or_create(username=f"fysio-ledger-{n}")
    return user


def lot(patient: Patient, package: Package, credits: int, *,
        expires_on: datetime.date | None = None, key: str | None = None) -> CreditLot:
    return ledger.grant_lot(patient=patient, package=package, credits=credits,
                            value_total=Money(60 * credits, "EUR"), source="import",
                            pending=False, key=key or f"import:{next(_serial)}", by=None,
                            expires_on=expires_on)


def appointment(patient: Patient, package: Package, start: datetime.datetime | None = None, *,
                credits: int = 1) -> Appointment:
    kind, _created = AppointmentType.objects.get_or_create(
        name=f"Behandeling {package.pk}×{credits}", package=package,
        defaults={"credits": credits})
    n = next(_serial)
    start = start or timezone.now() + datetime.timedelta(days=3)
    return Appointment.objects.create(
        patient=patient, practitioner=practitioner(n), type=kind, start=start,
        end=start + datetime.timedelta(minutes=30), idempotency_key=f"appt-{n}")


def at(day: datetime.date, hour: int = 10) -> datetime.datetime:
    """A moment on a local (Europe/Amsterdam) day."""
    return datetime.datetime.combine(day, datetime.time(hour), tzinfo=ledger.AMSTERDAM)


def counters(patient: Patient, package: Package) -> dict[str, int]:
    return CreditBalance.objects.get(patient=patient, package=package).counters()


def fresh(obj: CreditLot) -> dict[str, int]:
    obj.refresh_from_db()
    return obj.counters()


def days_from_now(n: int) -> datetime.date:
    return timezone.localdate() + datetime.timedelta(days=n)
