"""Booking, the weekly series, the no-overlap rule, rescheduling, cancelling, status changes
and who may make them, and the automatic attended rule — through the services."""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal

import pytest
import time_machine
from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.audit import history
from core.services import ConcurrentEditError
from packages.models import Package
from scheduling import services, tasks
from scheduling.models import Appointment, WorkingHours

from .conftest import make_user
from .scheduling_factories import appointment_type, at, book, patient

Status = Appointment.Status
MONDAY = "2030-03-04"  # a Monday, far enough ahead to be in the future


@pytest.fixture(autouse=True)
def _english():  # type: ignore[no-untyped-def]
    from django.utils import translation

    with translation.override("en"):
        yield


@pytest.mark.django_db
def test_booking_takes_its_duration_from_the_type_and_is_audited(
    receptionist: User, practitioner: User
) -> None:
    intake = appointment_type("Intake", 60)
    [made] = book(practitioner=practitioner, start=at(MONDAY, "09:00"), kind=intake,
                  by=receptionist)
    assert made.end - made.start == datetime.timedelta(minutes=60)
    assert made.status == Status.BOOKED and made.created_by == receptionist
    entry = history(made).get()
    assert entry.action == "create" and entry.user == receptionist


@pytest.mark.django_db
def test_a_type_with_a_package_is_refused_without_credits(
    receptionist: User, practitioner: User
) -> None:
    package = Package.objects.create(name="Fysio 10×", internal_rate=Decimal("60.00"))
    credits_type = appointment_type("Fysio uit pakket", package=package, credits=1)
    with pytest.raises(services.InsufficientCreditsError,
                       match="Insufficient credits: 0 available in ‘Fysio 10×’, 1 needed"):
        book(practitioner=practitioner, start=at(MONDAY, "09:00"), kind=credits_type,
             by=receptionist)
    assert not Appointment.objects.exists()


@pytest.mark.django_db
def test_practitioners_do_not_book(practitioner: User) -> None:
    with pytest.raises(services.NotAllowed):
        book(practitioner=practitioner, start=at(MONDAY, "09:00"), by=practitioner)


@pytest.mark.django_db
def test_a_clash_is_refused_with_a_message_naming_it(
    receptionist: User, practitioner: User
) -> None:
    first = patient("Anna", "de Vries")
    book(practitioner=practitioner, start=at(MONDAY, "09:00"), who=first, by=receptionist)
    with pytest.raises(services.AppointmentClash) as caught:
        book(practitioner=practitioner, start=at(MONDAY, "09:15"), by=receptionist)
    message = str(caught.value)
    assert "Monday 4 March 2030 09:00–09:30" in message and "Anna de Vries" in message
    # Back to back is fine, and another practitioner is free at the same time.
    book(practitioner=practitioner, start=at(MONDAY, "09:30"), by=receptionist)
    other = make_user("collega", "practitioner")
    book(practitioner=other, start=at(MONDAY, "09:00"), by=receptionist)
    assert Appointment.objects.count() == 3


@pytest.mark.django_db
def test_weekly_series_books_every_week_at_the_same_time(
    receptionist: User, practitioner: User
) -> None:
    # 23 March to 6 April 2030 spans the change to summer time (31 March).
    made = book(practitioner=practitioner, start=at("2030-03-23", "10:00"), weeks=3,
                by=receptionist)
    assert [timezone.localtime(a.start).strftime("%Y-%m-%d %H:%M") for a in made] == [
        "2030-03-23 10:00", "2030-03-30 10:00", "2030-04-06 10:00"]


@pytest.mark.django_db
def test_weekly_series_is_all_or_none_and_names_the_clashing_date(
    receptionist: User, practitioner: User
) -> None:
    book(practitioner=practitioner, start=at("2030-03-18", "10:15"), by=receptionist)
    with pytest.raises(services.AppointmentClash) as caught:
        book(practitioner=practitioner, start=at(MONDAY, "10:00"), weeks=4, by=receptionist)
    assert "18 March 2030" in str(caught.value)
    assert "None of the 4 appointments" in str(caught.value)
    assert Appointment.objects.count() == 1  # not even the weeks before the clash


@pytest.mark.django_db
def test_the_same_idempotency_key_books_once(receptionist: User, practitioner: User) -> None:
    kind, who, key = appointment_type(), patient(), uuid.uuid4().hex
    args = {"patient": who, "practitioner": practitioner, "appointment_type": kind,
            "start": at(MONDAY, "09:00"), "weeks": 2, "idempotency_key": key,
            "by": receptionist}
    first = services.book_appointment(**args)  # type: ignore[arg-type]
    again = services.book_appointment(**args)  # type: ignore[arg-type]
    assert [a.pk for a in again] == [a.pk for a in first]
    assert Appointment.objects.count() == 2


@pytest.mark.django_db
def test_the_database_refuses_overlap_of_active_appointments_only(
    receptionist: User, practitioner: User
) -> None:
    [made] = book(practitioner=practitioner, start=at(MONDAY, "09:00"), by=receptionist)
    copy = Appointment(patient=made.patient, practitioner=practitioner, type=made.type,
                       start=made.start + datetime.timedelta(minutes=10),
                       end=made.end + datetime.timedelta(minutes=10), idempotency_key="x")
    with pytest.raises(IntegrityError), transaction.atomic():
        copy.save()
    copy.status, copy.cancelled_by = Status.CANCELLED, Appointment.CancelledBy.PATIENT
    copy.save()  # a cancelled appointment occupies nothing


@pytest.mark.django_db
def test_reschedule_moves_checks_the_new_time_and_audits(
    receptionist: User, practitioner: User
) -> None:
    [made] = book(practitioner=practitioner, start=at(MONDAY, "09:00"), by=receptionist)
    book(practitioner=practitioner, start=at(MONDAY, "11:00"), by=receptionist)
    with pytest.raises(services.AppointmentClash):
        services.reschedule_appointment(made, practitioner=practitioner,
                                        appointment_type=made.type, start=at(MONDAY, "10:45"),
                                        note="", by=receptionist)
    # Moving it over its own old time is fine.
    moved = services.reschedule_appointment(
        made, practitioner=practitioner, appointment_type=made.type,
        start=at(MONDAY, "09:15"), note="later", by=receptionist)
    assert timezone.localtime(moved.end).strftime("%H:%M") == "09:45"
    assert history(moved).first().changes["start"][1].endswith("09:15–09:45")  # type: ignore[union-attr]


@pytest.mark.django_db
def test_reschedule_on_stale_information_is_refused(
    receptionist: User, practitioner: User
) -> None:
    [made] = book(practitioner=practitioner, start=at(MONDAY, "09:00"), by=receptionist)
    seen = services.version(made)
    services.reschedule_appointment(made, practitioner=practitioner, appointment_type=made.type,
                                    start=at(MONDAY, "10:00"), note="", by=receptionist)
    with pytest.raises(ConcurrentEditError):
        services.reschedule_appointment(
            made, practitioner=practitioner, appointment_type=made.type,
            start=at(MONDAY, "14:00"), note="", by=receptionist, seen=seen)


@pytest.mark.django_db
def test_changing_to_a_type_with_a_package_without_credits_is_refused(
    receptionist: User, practitioner: User
) -> None:
    [made] = book(practitioner=practitioner, start=at(MONDAY, "09:00"), by=receptionist)
    package = Package.objects.create(name="Fysio 10×", internal_rate=Decimal("60.00"))
    credits_type = appointment_type("Uit pakket", package=package, credits=1)
    with pytest.raises(services.InsufficientCreditsError, match="0 available"):
        services.reschedule_appointment(made, practitioner=practitioner,
                                        appointment_type=credits_type, start=made.start,
                                        note="", by=receptionist)
    made.refresh_from_db()
    assert made.type != credits_type


@pytest.mark.django_db
@pytest.mark.parametrize(("cancelled_by", "hours_before", "expected"), [
    ("patient", 48, Status.CANCELLED),
    ("patient", 23, Status.LATE_CANCELLED),
    ("practice", 1, Status.CANCELLED),
])
def test_cancel_records_who_and_why_and_frees_the_time(
    receptionist: User, practitioner: User, cancelled_by: str, hours_before: int,
    expected: str,
) -> None:
    [made] = book(practitioner=practitioner, start=at(MONDAY, "09:00"), by=receptionist)
    now = made.start - datetime.timedelta(hours=hours_before)
    done = services.cancel_appointment(made, cancelled_by=cancelled_by, reason="Ziek",
                                       by=receptionist, now=now)
    assert (done.status, done.cancelled_by, done.cancel_reason) == (expected, cancelled_by, "Ziek")
    assert done.status_changed_by == receptionist
    book(practitioner=practitioner, start=at(MONDAY, "09:00"), by=receptionist)


@pytest.mark.django_db
def test_cancel_needs_a_reason(receptionist: User, practitioner: User) -> None:
    [made] = book(practitioner=practitioner, start=at(MONDAY, "09:00"), by=receptionist)
    with pytest.raises(services.AppointmentError, match="reason"):
        services.cancel_appointment(made, cancelled_by="patient", reason=" ", by=receptionist)


# ── Who may make which status change, when ───────────────────────────────────────────────

START = at(MONDAY, "09:00")
BEFORE = START - datetime.timedelta(hours=2)
AFTER = START + datetime.timedelta(hours=2)
CLOSED = at("2030-03-06", "00:00")  # the end of the day after the appointment


def actor(name: str, practitioner: User) -> User:
    if name == "own practitioner":
        return practitioner
    if name == "other practitioner":
        return make_user("ander", "practitioner")
    return make_user(name, name)


@pytest.mark.django_db
@pytest.mark.parametrize(("status", "who", "now", "allowed"), [
    # booked, before the start: the front desk reschedules and cancels; nobody marks yet
    (Status.BOOKED, "receptionist", BEFORE, {"reschedule", "cancel"}),
    (Status.BOOKED, "administrator", BEFORE, {"reschedule", "cancel"}),
    (Status.BOOKED, "own practitioner", BEFORE, set()),
    # booked, after the start: attended / no-show also for its practitioner
    (Status.BOOKED, "receptionist", AFTER, {"reschedule", "cancel", "attended", "no_show"}),
    (Status.BOOKED, "own practitioner", AFTER, {"attended", "no_show"}),
    (Status.BOOKED, "other practitioner", AFTER, set()),
    # marked: switch between attended and no-show; cancelling then is a correction
    (Status.ATTENDED, "own practitioner", AFTER, {"no_show"}),
    (Status.ATTENDED, "receptionist", AFTER, {"no_show"}),
    (Status.ATTENDED, "administrator", AFTER, {"no_show", "cancel"}),
    (Status.NO_SHOW, "own practitioner", AFTER, {"attended"}),
    (Status.NO_SHOW, "other practitioner", AFTER, set()),
    # cancelled: only an administrator corrects
    (Status.CANCELLED, "receptionist", AFTER, set()),
    (Status.LATE_CANCELLED, "own practitioner", AFTER, set()),
    (Status.CANCELLED, "administrator", AFTER, {"attended", "no_show"}),
    # after the end of the next day: only an administrator
    (Status.ATTENDED, "own practitioner", CLOSED, set()),
    (Status.ATTENDED, "receptionist", CLOSED, set()),
    (Status.BOOKED, "receptionist", CLOSED, set()),
    (Status.ATTENDED, "administrator", CLOSED, {"no_show", "cancel"}),
])
def test_who_may_change_what(
    practitioner: User, status: str, who: str, now: datetime.datetime, allowed: set[str]
) -> None:
    appointment = Appointment(practitioner=practitioner, status=status, start=START,
                              end=START + datetime.timedelta(minutes=30))
    assert services.allowed_actions(appointment, actor(who, practitioner), now) == allowed


@pytest.mark.django_db
def test_every_transition_through_the_services(
    admin: User, receptionist: User, practitioner: User
) -> None:
    [made] = book(practitioner=practitioner, start=START, by=receptionist)
    with pytest.raises(services.NotAllowed):
        services.mark_appointment(made, Status.ATTENDED, by=practitioner, now=BEFORE)
    assert services.mark_appointment(made, Status.ATTENDED, by=practitioner,
                                     now=AFTER).status == Status.ATTENDED
    assert services.mark_appointment(made, Status.NO_SHOW, by=receptionist,
                                     now=AFTER).status == Status.NO_SHOW
    colleague = make_user("collega", "practitioner")
    with pytest.raises(services.NotAllowed):
        services.mark_appointment(made, Status.ATTENDED, by=colleague, now=AFTER)
    with pytest.raises(services.NotAllowed):
        services.cancel_appointment(made, cancelled_by="patient", reason="x",
                                    by=receptionist, now=AFTER)
    done = services.cancel_appointment(made, cancelled_by="practice", reason="Correctie",
                                       by=admin, now=AFTER)
    assert done.status == Status.CANCELLED
    with pytest.raises(services.NotAllowed):
        services.mark_appointment(made, Status.ATTENDED, by=receptionist, now=AFTER)
    back = services.mark_appointment(made, Status.ATTENDED, by=admin, now=CLOSED)
    assert (back.status, back.cancelled_by, back.cancel_reason) == (Status.ATTENDED, "", "")
    statuses = [e.changes["status"] for e in history(made).filter(action="update")]
    assert statuses[::-1] == [["Booked", "Attended"], ["Attended", "No-show"],
                              ["No-show", "Cancelled"], ["Cancelled", "Attended"]]


@pytest.mark.django_db
def test_an_admin_correction_into_a_taken_time_gets_the_clash_message(
    admin: User, receptionist: User, practitioner: User
) -> None:
    [made] = book(practitioner=practitioner, start=START, by=receptionist)
    services.cancel_appointment(made, cancelled_by="patient", reason="Ziek",
                                by=receptionist, now=BEFORE - datetime.timedelta(days=2))
    book(practitioner=practitioner, start=START, by=receptionist)
    with pytest.raises(services.AppointmentClash, match="already has an appointment"):
        services.mark_appointment(made, Status.ATTENDED, by=admin, now=AFTER)


# ── The automatic attended rule ───────────────────────────────────────────────────────────

@pytest.mark.django_db
def test_unmarked_appointments_become_attended_at_the_end_of_the_next_day(
    admin: User, receptionist: User, practitioner: User
) -> None:
    [unmarked] = book(practitioner=practitioner, start=START, by=receptionist)
    [no_show] = book(practitioner=practitioner, start=at(MONDAY, "10:00"), by=receptionist)
    [later] = book(practitioner=practitioner, start=at("2030-03-05", "09:00"), by=receptionist)
    services.mark_appointment(no_show, Status.NO_SHOW, by=practitioner, now=AFTER)

    with time_machine.travel(at("2030-03-05", "23:59"), tick=False):
        assert tasks.mark_unmarked_attended.apply().get() == 0
        unmarked.refresh_from_db()
        assert unmarked.status == Status.BOOKED
        # Until then its practitioner may still mark it.
        assert "no_show" in services.allowed_actions(unmarked, practitioner)

    with time_machine.travel(at("2030-03-06", "00:05"), tick=False):
        assert tasks.mark_unmarked_attended.apply().get() == 1
        assert tasks.mark_unmarked_attended.apply().get() == 0  # idempotent
    for item in (unmarked, no_show, later):
        item.refresh_from_db()
    assert (unmarked.status, no_show.status, later.status) == (
        Status.ATTENDED, Status.NO_SHOW, Status.BOOKED)
    assert unmarked.status_changed_by is None
    entry = history(unmarked).first()
    assert entry is not None and entry.user is None and entry.changes["status"][1] == "Attended"

    # From now on only an administrator changes its status.
    with time_machine.travel(at("2030-03-06", "08:00"), tick=False):
        for user in (practitioner, receptionist):
            with pytest.raises(services.NotAllowed, match="only an administrator"):
                services.mark_appointment(unmarked, Status.NO_SHOW, by=user)
        assert services.mark_appointment(unmarked, Status.NO_SHOW,
                                         by=admin).status == Status.NO_SHOW


def test_the_attended_rule_runs_from_celery_beat() -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["mark-unmarked-appointments-attended"]
    assert entry["task"] == tasks.mark_unmarked_attended.name


# ── Working hours ─────────────────────────────────────────────────────────────────────────

@pytest.mark.django_db
def test_working_hours_are_replaced_and_audited(admin: User, practitioner: User) -> None:
    nine, five = datetime.time(9), datetime.time(17)
    services.set_working_hours(practitioner, {0: (nine, five), 2: (nine, five)}, by=admin)
    services.set_working_hours(practitioner, {0: (nine, datetime.time(13))}, by=admin)
    assert list(WorkingHours.objects.values_list("weekday", "end")) == [(0, datetime.time(13))]
    entry = history(practitioner).first()
    assert entry is not None and entry.changes == {
        "working hours monday": ["09:00–17:00", "09:00–13:00"],
        "working hours wednesday": ["09:00–17:00", ""],
    }
