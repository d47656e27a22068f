"""Booking with credits through the form, at the same moment, on real PostgreSQL with real
concurrent connections: the last credits go once, and a double submit reserves once."""

from __future__ import annotations

import pytest
from djmoney.money import Money

from packages import ledger
from packages.ledger_models import CreditBalance
from packages.models import Package
from scheduling.models import Appointment

from .conftest import make_user
from .scheduling_factories import appointment_type, patient
from .test_booking_concurrency import booking, post_together, receptionists


def fysio_patient(credits: int):  # type: ignore[no-untyped-def]
    package = Package.objects.create(name="Fysio 10×", internal_rate=Money(60, "EUR"))
    kind = appointment_type("Fysio uit pakket", package=package, credits=1)
    who = patient("Piet")
    ledger.grant_lot(patient=who, package=package, credits=credits,
                     value_total=Money(60 * credits, "EUR"), source="import", pending=False,
                     key="import:race", by=None)
    return who, kind


@pytest.mark.django_db(transaction=True)
def test_six_simultaneous_bookings_of_three_credits_three_succeed() -> None:
    who, kind = fysio_patient(3)
    practitioner = make_user("fysio", "practitioner")
    forms = [booking(who.pk, practitioner.pk, kind.pk, time=f"{9 + n:02d}:00") for n in range(6)]
    answers = post_together(receptionists(6), forms)

    assert sorted(status for status, _body in answers) == [302] * 3 + [422] * 3
    assert all("Insufficient credits: 0 available in ‘Fysio 10×’, 1 needed" in body
               for status, body in answers if status == 422)
    assert Appointment.objects.count() == 3
    balance = CreditBalance.objects.get(patient=who)
    assert (balance.available, balance.reserved) == (0, 3)
    assert ledger.check().ok


@pytest.mark.django_db(transaction=True)
def test_a_package_series_submitted_twice_at_once_reserves_once() -> None:
    who, kind = fysio_patient(5)
    practitioner = make_user("fysio", "practitioner")
    form = booking(who.pk, practitioner.pk, kind.pk, weeks=3)
    answers = post_together(receptionists(3), [form] * 3)

    assert [status for status, _body in answers] == [302] * 3
    assert Appointment.objects.count() == 3
    balance = CreditBalance.objects.get(patient=who)
    assert (balance.available, balance.reserved) == (2, 3)
    assert ledger.check().ok
