"""Booking with credits: every appointment transition's effect on the ledger's balances,
through the scheduling services (DOMAIN.md rules 2 and 3)."""

from __future__ import annotations

import datetime
import uuid

import pytest
import time_machine
from django.contrib.auth.models import User
from django.utils import timezone
from djmoney.money import Money

from packages import ledger
from packages.ledger_models import CreditBalance
from packages.models import Outcome, Package
from patients.models import Patient
from scheduling import services
from scheduling.models import Appointment, AppointmentType

from .ledger_helpers import lot as grant  # available credits, imported
from .scheduling_factories import appointment_type, at, patient

Status = Appointment.Status
MONDAY = datetime.date(2030, 3, 4)


@pytest.fixture(autouse=True)
def _english():  # type: ignore[no-untyped-def]
    from django.utils import translation

    with translation.override("en"):
        yield


def fysio(**terms: object) -> Package:
    return Package.objects.create(name="Fysio 10×", internal_rate=Money(60, "EUR"), **terms)


def balance(who: Patient, package: Package) -> dict[str, int]:
    b = CreditBalance.objects.get(patient=who, package=package)
    return {"available": b.available, "reserved": b.reserved, "used": b.used}


def book(who: Patient, kind: AppointmentType, by: User, practitioner: User,
         start: datetime.datetime, weeks: int = 1, key: str | None = None) -> list[Appointment]:
    return services.book_appointment(
        patient=who, practitioner=practitioner, appointment_type=kind, start=start,
        weeks=weeks, idempotency_key=key or uuid.uuid4().hex, by=by)


@pytest.fixture
def setup(db, receptionist: User, practitioner: User):  # type: ignore[no-untyped-def]
    package = fysio()
    kind = appointment_type("Fysio uit pakket", package=package, credits=1)
    who = patient("Piet")
    grant(who, package, 3)
    return who, package, kind


def test_booking_reserves_and_attended_uses(setup, receptionist, practitioner) -> None:  # type: ignore[no-untyped-def]
    who, package, kind = setup
    [made] = book(who, kind, receptionist, practitioner, at(MONDAY, "09:00"))
    assert balance(who, package) == {"available": 2, "reserved": 1, "used": 0}
    with time_machine.travel(made.start + datetime.timedelta(minutes=40)):
        services.mark_appointment(made, Status.ATTENDED, by=receptionist)
    assert balance(who, package) == {"available": 2, "reserved": 0, "used": 1}
    assert ledger.check().ok


def test_a_double_submit_makes_one_appointment_and_one_reservation(
    setup, receptionist, practitioner
) -> None:  # type: ignore[no-untyped-def]
    who, package, kind = setup
    key = uuid.uuid4().hex
    first = book(who, kind, receptionist, practitioner, at(MONDAY, "09:00"), key=key)
    again = book(who, kind, receptionist, practitioner, at(MONDAY, "09:00"), key=key)
    assert [a.pk for a in first] == [a.pk for a in again]
    assert Appointment.objects.count() == 1
    assert balance(who, package) == {"available": 2, "reserved": 1, "used": 0}


def test_a_series_with_too_few_credits_books_none_and_names_the_date(
    setup, receptionist, practitioner
) -> None:  # type: ignore[no-untyped-def]
    who, package, kind = setup
    with pytest.raises(services.InsufficientCreditsError) as refused:
        book(who, kind, receptionist, practitioner, at(MONDAY, "09:00"), weeks=4)
    assert "0 available in ‘Fysio 10×’, 1 needed on Monday 25 March 2030" in str(refused.value)
    assert "None of the 4 appointments has been booked" in str(refused.value)
    assert not Appointment.objects.exists()
    assert balance(who, package) == {"available": 3, "reserved": 0, "used": 0}
    made = book(who, kind, receptionist, practitioner, at(MONDAY, "09:00"), weeks=3)
    assert len(made) == 3
    assert balance(who, package) == {"available": 0, "reserved": 3, "used": 0}


@pytest.mark.parametrize(("cancelled_by", "hours_before", "policy", "expected"), [
    ("patient", 48, Outcome.FORFEIT, {"available": 3, "reserved": 0, "used": 0}),
    ("practice", 1, Outcome.FORFEIT, {"available": 3, "reserved": 0, "used": 0}),
    ("patient", 2, Outcome.FORFEIT, {"available": 2, "reserved": 0, "used": 1}),
    ("patient", 2, Outcome.RETURN, {"available": 3, "reserved": 0, "used": 0}),
])
def test_cancelling_follows_the_window_and_the_lot_policy(
    receptionist, practitioner, cancelled_by, hours_before, policy, expected
) -> None:  # type: ignore[no-untyped-def]
    package = fysio(late_cancel_outcome=policy)
    kind = appointment_type("Fysio uit pakket", package=package, credits=1)
    who = patient("Piet")
    grant(who, package, 3)
    [made] = book(who, kind, receptionist, practitioner, at(MONDAY, "09:00"))
    with time_machine.travel(made.start - datetime.timedelta(hours=hours_before)):
        services.cancel_appointment(made, cancelled_by=cancelled_by, reason="Ziek",
                                    by=receptionist)
    assert balance(who, package) == expected
    assert ledger.check().ok


@pytest.mark.parametrize(("policy", "expected"), [
    (Outcome.FORFEIT, {"available": 2, "reserved": 0, "used": 1}),
    (Outcome.RETURN, {"available": 3, "reserved": 0, "used": 0}),
])
def test_a_no_show_follows_the_lot_policy(receptionist, practitioner, policy, expected) -> None:  # type: ignore[no-untyped-def]
    package = fysio(no_show_outcome=policy)
    kind = appointment_type("Fysio uit pakket", package=package, credits=1)
    who = patient("Piet")
    grant(who, package, 3)
    [made] = book(who, kind, receptionist, practitioner, at(MONDAY, "09:00"))
    with time_machine.travel(made.start + datetime.timedelta(minutes=5)):
        services.mark_appointment(made, Status.NO_SHOW, by=receptionist)
        assert balance(who, package) == expected
        # Corrected to attended: one credit used, never two.
        services.mark_appointment(made, Status.ATTENDED, by=receptionist)
    assert balance(who, package) == {"available": 2, "reserved": 0, "used": 1}
    assert ledger.check().ok


def test_an_administrators_correction_to_cancelled_gives_the_credit_back(
    setup, receptionist, practitioner, admin
) -> None:  # type: ignore[no-untyped-def]
    who, package, kind = setup
    [made] = book(who, kind, receptionist, practitioner, at(MONDAY, "09:00"))
    with time_machine.travel(made.start + datetime.timedelta(days=3)):
        assert services.mark_unmarked_attended() == 1
        assert balance(who, package) == {"available": 2, "reserved": 0, "used": 1}
        services.cancel_appointment(made, cancelled_by="practice", reason="Dubbel geboekt",
                                    by=admin)
    assert balance(who, package) == {"available": 3, "reserved": 0, "used": 0}
    assert ledger.check().ok


def test_rescheduling_moves_the_reservation_or_is_refused_untouched(
    setup, receptionist, practitioner
) -> None:  # type: ignore[no-untyped-def]
    who, package, kind = setup
    short = Package.objects.create(name="Kort", internal_rate=Money(60, "EUR"))
    grant(who, short, 1, expires_on=MONDAY + datetime.timedelta(days=1))
    short_kind = appointment_type("Kort uit pakket", package=short, credits=1)
    [made] = book(who, short_kind, receptionist, practitioner, at(MONDAY, "09:00"))
    assert balance(who, short) == {"available": 0, "reserved": 1, "used": 0}
    later = at(MONDAY + datetime.timedelta(days=7), "09:00")
    with pytest.raises(services.InsufficientCreditsError, match="0 available in ‘Kort’"):
        services.reschedule_appointment(made, practitioner=practitioner,
                                        appointment_type=short_kind, start=later, note="",
                                        by=receptionist)
    made.refresh_from_db()
    assert made.start == at(MONDAY, "09:00")
    assert balance(who, short) == {"available": 0, "reserved": 1, "used": 0}
    # A change of type moves the reservation to the other package.
    services.reschedule_appointment(made, practitioner=practitioner, appointment_type=kind,
                                    start=later, note="", by=receptionist)
    assert balance(who, short) == {"available": 1, "reserved": 0, "used": 0}
    assert balance(who, package) == {"available": 2, "reserved": 1, "used": 0}
    # And to a type without a package releases it.
    plain = appointment_type("Intake")
    services.reschedule_appointment(made, practitioner=practitioner, appointment_type=plain,
                                    start=later, note="", by=receptionist)
    assert balance(who, package) == {"available": 3, "reserved": 0, "used": 0}
    assert ledger.check().ok


def test_the_last_credit_books_and_the_next_is_refused(setup, receptionist, practitioner) -> None:  # type: ignore[no-untyped-def]
    who, package, kind = setup
    for day in range(3):
        book(who, kind, receptionist, practitioner,
             at(MONDAY + datetime.timedelta(days=day), "09:00"))
    with pytest.raises(services.InsufficientCreditsError,
                       match="0 available in ‘Fysio 10×’, 1 needed"):
        book(who, kind, receptionist, practitioner, at(MONDAY, "11:00"))
    assert Appointment.objects.count() == 3
    assert timezone.now() < at(MONDAY, "09:00")


# ── The booking dialog ───────────────────────────────────────────────────────────────────

def dialog(who: Patient, kind: AppointmentType, practitioner: User,
           **changes: str) -> dict[str, str]:
    return {"patient": str(who.pk), "practitioner": str(practitioner.pk),
            "appointment_type": str(kind.pk), "date": MONDAY.isoformat(), "time": "10:00",
            "weeks": "1", "note": "", "idempotency_key": uuid.uuid4().hex} | changes


def english(user: User):  # type: ignore[no-untyped-def]
    from .conftest import client_for

    client = client_for(user)
    client.cookies["django_language"] = "en"
    return client


def test_the_dialog_shows_the_balance_and_what_remains(setup, receptionist, practitioner) -> None:  # type: ignore[no-untyped-def]
    who, package, kind = setup
    book(who, kind, receptionist, practitioner, at(MONDAY, "09:00"))
    body = english(receptionist).get("/calendar/book/credits/",
                                     dialog(who, kind, practitioner)).content.decode()
    assert "2 credits available · 1 planned" in body
    assert "After this booking: 1 left" in body
    assert "disabled" not in body


def test_too_few_credits_disable_book_and_offer_to_sell_a_package(
    setup, receptionist, practitioner
) -> None:  # type: ignore[no-untyped-def]
    who, package, kind = setup
    body = english(receptionist).get("/calendar/book/credits/",
                                     dialog(who, kind, practitioner, weeks="4")).content.decode()
    assert "Insufficient credits: 3 available in ‘Fysio 10×’, 4 needed" in body
    assert 'disabled aria-describedby="book-refusal"' in body
    assert f"/invoices/new/?patient={who.pk}&amp;package={package.pk}" in body
    assert "Sell package" in body


def test_a_type_without_a_package_shows_no_credits(receptionist, practitioner) -> None:  # type: ignore[no-untyped-def]
    body = english(receptionist).get("/calendar/book/credits/", dialog(
        patient(), appointment_type("Intake"), practitioner)).content.decode()
    assert "data-credits" not in body and "disabled" not in body


def test_after_booking_the_message_says_what_is_left(setup, receptionist, practitioner) -> None:  # type: ignore[no-untyped-def]
    who, package, kind = setup
    client = english(receptionist)
    response = client.post("/calendar/book/", dialog(who, kind, practitioner), follow=True)
    assert "2 credits left in ‘Fysio 10×’." in response.content.decode()
    response = client.post("/calendar/book/", dialog(who, kind, practitioner, weeks="2",
                                                     date="2030-03-05"), follow=True)
    assert "No credits left in ‘Fysio 10×’." in response.content.decode()
    response = client.post("/calendar/book/", dialog(who, kind, practitioner, time="15:00"))
    assert response.status_code == 422
    assert "Insufficient credits: 0 available in ‘Fysio 10×’, 1 needed" in (
        response.content.decode())


def test_the_appointment_dialog_says_what_it_holds(setup, receptionist, practitioner) -> None:  # type: ignore[no-untyped-def]
    who, package, kind = setup
    [made] = book(who, kind, receptionist, practitioner, at(MONDAY, "09:00"))
    client = english(receptionist)
    assert "Fysio 10×: 1 reserved" in client.get(
        f"/calendar/appointments/{made.pk}/").content.decode()
    services.cancel_appointment(made, cancelled_by="practice", reason="Ziek", by=receptionist)
    assert "Fysio 10×: given back" in client.get(
        f"/calendar/appointments/{made.pk}/").content.decode()


def test_booking_and_cancelling_email_the_patient_with_the_credits_left(
    setup, receptionist, practitioner
) -> None:  # type: ignore[no-untyped-def]
    from communication.models import Event, OutgoingEmail
    from communication.services import ensure_default_templates

    ensure_default_templates()
    who, package, kind = setup
    who.email, who.language = "piet@example.org", "en"
    who.save()
    made = book(who, kind, receptionist, practitioner, at(MONDAY, "09:00"), weeks=2)
    confirmation = OutgoingEmail.objects.get(event=Event.APPOINTMENT_CONFIRMATION)
    assert confirmation.related_id == str(made[0].pk) and "1" in confirmation.body_text
    # The series left 1 credit: the patient hears the credits are running low, once.
    assert OutgoingEmail.objects.filter(event=Event.CREDITS_LOW).count() == 1
    services.cancel_appointment(made[1], cancelled_by="practice", reason="ziek", by=receptionist)
    cancelled = OutgoingEmail.objects.get(event=Event.APPOINTMENT_CANCELLED)
    assert cancelled.related_id == str(made[1].pk)
    assert balance(who, package) == {"available": 2, "reserved": 1, "used": 0}
