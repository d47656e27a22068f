"""An administrator waives the credit a late cancellation or a no-show forfeited (DOMAIN.md
rule 3): through the service, and from the appointment dialog."""

from __future__ import annotations

import datetime
import uuid

import pytest
import time_machine
from django.contrib.auth.models import User
from django.test import Client
from djmoney.money import Money

from core.audit import history
from packages import ledger
from packages.ledger_models import CreditBalance, CreditEntry
from packages.models import Outcome, Package
from patients.models import Patient
from scheduling import services
from scheduling.models import Appointment, AppointmentType

from .conftest import client_for
from .ledger_helpers import lot as grant  # available credits, imported
from .scheduling_factories import appointment_type, at, patient

Status = Appointment.Status
MONDAY = datetime.date(2030, 3, 4)
START = at(MONDAY, "09:00")


@pytest.fixture(autouse=True)
def _english():  # type: ignore[no-untyped-def]
    from django.utils import translation

    with translation.override("en"):
        yield


def fysio(**terms: object) -> Package:
    terms = {"late_cancel_outcome": Outcome.FORFEIT, "no_show_outcome": Outcome.FORFEIT} | terms
    return Package.objects.create(name="Fysio 10×", internal_rate=Money(60, "EUR"), **terms)


def balance(who: Patient, package: Package) -> dict[str, int]:
    b = CreditBalance.objects.get(patient=who, package=package)
    return {"available": b.available, "reserved": b.reserved, "used": b.used,
            "expired": b.expired}


def book(who: Patient, kind: AppointmentType, by: User, practitioner: User,
         start: datetime.datetime = START) -> Appointment:
    [made] = services.book_appointment(
        patient=who, practitioner=practitioner, appointment_type=kind, start=start,
        idempotency_key=uuid.uuid4().hex, by=by)
    return made


def late_cancel(made: Appointment, by: User) -> Appointment:
    with time_machine.travel(made.start - datetime.timedelta(hours=2)):
        return services.cancel_appointment(made, cancelled_by="patient", reason="Ziek", by=by)


def no_show(made: Appointment, by: User) -> Appointment:
    return services.mark_appointment(made, Status.NO_SHOW, by=by,
                                     now=made.start + datetime.timedelta(minutes=10))


@pytest.fixture
def setup(db, receptionist: User, practitioner: User):  # type: ignore[no-untyped-def]
    package = fysio()
    kind = appointment_type("Fysio uit pakket", package=package, credits=1)
    who = patient("Piet")
    grant(who, package, 3)
    return who, package, kind


# ── The service ──────────────────────────────────────────────────────────────────────────

def test_waiving_a_late_cancellation_gives_the_credit_back(
    setup, admin, receptionist, practitioner
) -> None:  # type: ignore[no-untyped-def]
    who, package, kind = setup
    made = late_cancel(book(who, kind, receptionist, practitioner), receptionist)
    assert made.status == Status.LATE_CANCELLED
    assert balance(who, package) == {"available": 2, "reserved": 0, "used": 1, "expired": 0}
    assert services.may_waive(made, admin)

    waived = services.waive_forfeit(made, reason="Ziekenhuisopname", by=admin)

    assert waived.status == Status.LATE_CANCELLED
    assert balance(who, package) == {"available": 3, "reserved": 0, "used": 0, "expired": 0}
    assert ledger.check().ok
    entry = CreditEntry.objects.get(appointment=made, kind=CreditEntry.Kind.REVERSE)
    assert entry.is_waiver and entry.reason == "Ziekenhuisopname" and entry.created_by == admin
    assert services.waiver(made) == entry
    assert not services.may_waive(made, admin)
    [audit] = [e for e in history(made) if "waiver reason" in e.changes]
    assert audit.user == admin and audit.changes["waiver reason"] == ["", "Ziekenhuisopname"]


def test_waiving_a_no_show_after_the_cutoff(setup, admin, receptionist, practitioner) -> None:  # type: ignore[no-untyped-def]
    who, package, kind = setup
    made = no_show(book(who, kind, receptionist, practitioner), practitioner)
    assert balance(who, package)["used"] == 1
    with time_machine.travel(made.start + datetime.timedelta(days=10)):
        services.waive_forfeit(made, reason="Overmacht", by=admin)
    made.refresh_from_db()
    assert made.status == Status.NO_SHOW
    assert balance(who, package) == {"available": 3, "reserved": 0, "used": 0, "expired": 0}
    assert ledger.check().ok


def test_waiving_twice_gives_the_credit_back_once(setup, admin, receptionist, practitioner) -> None:  # type: ignore[no-untyped-def]
    who, package, kind = setup
    made = late_cancel(book(who, kind, receptionist, practitioner), receptionist)
    services.waive_forfeit(made, reason="Ziek", by=admin)
    entries = CreditEntry.objects.count()
    services.waive_forfeit(made, reason="Ziek", by=admin)  # a double click
    assert CreditEntry.objects.count() == entries
    assert balance(who, package) == {"available": 3, "reserved": 0, "used": 0, "expired": 0}
    assert ledger.check().ok


def test_a_credit_waived_onto_an_expired_lot_expires_at_once(
    db, admin, receptionist, practitioner
) -> None:  # type: ignore[no-untyped-def]
    package = fysio()
    kind = appointment_type("Fysio uit pakket", package=package, credits=1)
    who = patient("Piet")
    grant(who, package, 1, expires_on=MONDAY)
    made = no_show(book(who, kind, receptionist, practitioner), practitioner)
    with time_machine.travel(at(MONDAY + datetime.timedelta(days=5), "10:00")):
        services.waive_forfeit(made, reason="Overmacht", by=admin)
    assert balance(who, package) == {"available": 0, "reserved": 0, "used": 0, "expired": 1}
    assert ledger.check().ok


def test_waiving_credits_from_two_lots(db, admin, receptionist, practitioner) -> None:  # type: ignore[no-untyped-def]
    package = fysio()
    kind = appointment_type("Dubbele sessie", package=package, credits=2)
    who = patient("Piet")
    grant(who, package, 1, expires_on=MONDAY + datetime.timedelta(days=30))
    grant(who, package, 1)
    made = late_cancel(book(who, kind, receptionist, practitioner), receptionist)
    assert balance(who, package)["used"] == 2
    services.waive_forfeit(made, reason="Ziek", by=admin)
    assert balance(who, package) == {"available": 2, "reserved": 0, "used": 0, "expired": 0}
    assert CreditEntry.objects.filter(appointment=made, kind="reverse").count() == 2
    assert ledger.check().ok


def test_only_a_forfeited_credit_can_be_waived(setup, admin, receptionist, practitioner) -> None:  # type: ignore[no-untyped-def]
    who, package, kind = setup
    booked = book(who, kind, receptionist, practitioner)
    attended = services.mark_appointment(
        book(who, kind, receptionist, practitioner, at(MONDAY, "10:00")), Status.ATTENDED,
        by=receptionist, now=at(MONDAY, "10:30"))
    cancelled = services.cancel_appointment(
        book(who, kind, receptionist, practitioner, at(MONDAY, "11:00")),
        cancelled_by="practice", reason="Therapeut ziek", by=receptionist)
    before = balance(who, package)
    for made in (booked, attended, cancelled):
        assert not services.may_waive(made, admin)
        with pytest.raises(services.AppointmentError):
            services.waive_forfeit(made, reason="Ziek", by=admin)
    assert balance(who, package) == before


def test_a_late_cancellation_that_returned_the_credit_has_nothing_to_waive(
    db, admin, receptionist, practitioner
) -> None:  # type: ignore[no-untyped-def]
    package = fysio(late_cancel_outcome=Outcome.RETURN)
    kind = appointment_type("Fysio uit pakket", package=package, credits=1)
    who = patient("Piet")
    grant(who, package, 3)
    made = late_cancel(book(who, kind, receptionist, practitioner), receptionist)
    assert made.status == Status.LATE_CANCELLED
    assert not services.may_waive(made, admin)
    with pytest.raises(services.AppointmentError, match="no forfeited credit"):
        services.waive_forfeit(made, reason="Ziek", by=admin)


def test_only_an_administrator_waives(setup, receptionist, practitioner) -> None:  # type: ignore[no-untyped-def]
    who, package, kind = setup
    made = no_show(book(who, kind, receptionist, practitioner), practitioner)
    for user in (receptionist, practitioner):
        assert not services.may_waive(made, user)
        with pytest.raises(services.NotAllowed):
            services.waive_forfeit(made, reason="Ziek", by=user)
    assert balance(who, package)["used"] == 1


def test_a_waiver_needs_a_reason(setup, admin, receptionist, practitioner) -> None:  # type: ignore[no-untyped-def]
    who, package, kind = setup
    made = no_show(book(who, kind, receptionist, practitioner), practitioner)
    with pytest.raises(services.AppointmentError, match="reason"):
        services.waive_forfeit(made, reason="  ", by=admin)
    assert balance(who, package)["used"] == 1
    assert services.may_waive(made, admin)


def test_a_new_forfeit_after_a_correction_can_be_waived_again(
    setup, admin, receptionist, practitioner
) -> None:  # type: ignore[no-untyped-def]
    who, package, kind = setup
    made = no_show(book(who, kind, receptionist, practitioner), practitioner)
    services.waive_forfeit(made, reason="Overmacht", by=admin)
    later = made.start + datetime.timedelta(minutes=20)
    services.mark_appointment(made, Status.ATTENDED, by=admin, now=later)
    assert services.waiver(made) is None  # attended: the waiver no longer stands
    services.mark_appointment(made, Status.NO_SHOW, by=admin, now=later)
    assert balance(who, package)["used"] == 1 and services.may_waive(made, admin)
    assert services.waiver(made) is None
    services.waive_forfeit(made, reason="Toch overmacht", by=admin)
    assert balance(who, package) == {"available": 3, "reserved": 0, "used": 0, "expired": 0}
    assert services.waiver(made).reason == "Toch overmacht"  # type: ignore[union-attr]
    assert ledger.check().ok


# ── The dialog ───────────────────────────────────────────────────────────────────────────

def english(user: User, **kwargs: bool) -> Client:
    client = client_for(user)
    if kwargs:
        client = Client(**kwargs)
        client.force_login(user)
    client.cookies["django_language"] = "en"
    return client


def test_an_administrator_waives_from_the_dialog(setup, admin, receptionist, practitioner) -> None:  # type: ignore[no-untyped-def]
    who, package, kind = setup
    made = late_cancel(book(who, kind, receptionist, practitioner), receptionist)
    client = english(admin)
    url = f"/calendar/appointments/{made.pk}/"
    body = client.get(url).content.decode()
    assert f'href="/calendar/appointments/{made.pk}/waive/' in body and ">Waive<" in body
    form = client.get(f"{url}waive/")
    assert form.status_code == 200
    assert "1 credit of ‘Fysio 10×’ is forfeited." in form.content.decode()
    response = client.post(f"{url}waive/", {"reason": "Opname <b>ziekenhuis</b>",
                                            "next": "/calendar/"}, follow=True)
    assert response.redirect_chain[-1][0].startswith("/calendar/")
    assert "has been waived" in response.content.decode()
    assert balance(who, package)["available"] == 3

    body = client.get(url).content.decode()
    assert "Fysio 10×: given back" in body
    assert "Waived by Beheerder" in body or "Waived by beheerder" in body
    assert "Opname &lt;b&gt;ziekenhuis&lt;/b&gt;" in body and "<b>ziekenhuis" not in body
    assert f"/calendar/appointments/{made.pk}/waive/" not in body  # nothing left to waive

    tab = client.get(f"/patients/{who.pk}/packages/").content.decode()
    assert "Waived" in tab and "Opname &lt;b&gt;ziekenhuis&lt;/b&gt;" in tab


def test_the_dialog_in_dutch_says_kwijtschelden(setup, admin, receptionist, practitioner) -> None:  # type: ignore[no-untyped-def]
    who, package, kind = setup
    made = no_show(book(who, kind, receptionist, practitioner), practitioner)
    client = client_for(admin)
    client.cookies["django_language"] = "nl"
    body = client.get(f"/calendar/appointments/{made.pk}/").content.decode()
    assert "Kwijtschelden" in body
    client.post(f"/calendar/appointments/{made.pk}/waive/", {"reason": "Overmacht"})
    body = client.get(f"/calendar/appointments/{made.pk}/").content.decode()
    assert "Kwijtgescholden door" in body


def test_receptionists_and_practitioners_neither_see_nor_post_it(
    setup, receptionist, practitioner
) -> None:  # type: ignore[no-untyped-def]
    who, package, kind = setup
    made = no_show(book(who, kind, receptionist, practitioner), practitioner)
    for user in (receptionist, practitioner):
        client = english(user)
        body = client.get(f"/calendar/appointments/{made.pk}/").content.decode()
        assert "/waive/" not in body
        assert client.get(f"/calendar/appointments/{made.pk}/waive/").status_code == 403
        assert client.post(f"/calendar/appointments/{made.pk}/waive/",
                           {"reason": "Ziek"}).status_code == 403
    anonymous = Client().post(f"/calendar/appointments/{made.pk}/waive/", {"reason": "Ziek"})
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/login/")
    assert balance(who, package)["used"] == 1


def test_an_empty_reason_shows_an_error_and_changes_nothing(
    setup, admin, receptionist, practitioner
) -> None:  # type: ignore[no-untyped-def]
    who, package, kind = setup
    made = no_show(book(who, kind, receptionist, practitioner), practitioner)
    response = english(admin).post(f"/calendar/appointments/{made.pk}/waive/",
                                   {"reason": "   "}, HTTP_HX_REQUEST="true")
    assert response.status_code == 422
    body = response.content.decode()
    assert "error-summary" in body and "This field is required." in body
    assert balance(who, package)["used"] == 1
    assert not CreditEntry.objects.filter(appointment=made, kind="reverse").exists()


def test_nothing_to_waive_says_why_in_the_form(setup, admin, receptionist, practitioner) -> None:  # type: ignore[no-untyped-def]
    who, package, kind = setup
    made = book(who, kind, receptionist, practitioner)
    response = english(admin).post(f"/calendar/appointments/{made.pk}/waive/",
                                   {"reason": "Ziek"})
    assert response.status_code == 422
    assert "Only the credit of a late cancellation or a no-show" in response.content.decode()


def test_waiving_needs_the_csrf_token(setup, admin, receptionist, practitioner) -> None:  # type: ignore[no-untyped-def]
    who, package, kind = setup
    made = no_show(book(who, kind, receptionist, practitioner), practitioner)
    client = english(admin, enforce_csrf_checks=True)
    response = client.post(f"/calendar/appointments/{made.pk}/waive/", {"reason": "Ziek"})
    assert response.status_code == 403
    assert balance(who, package)["used"] == 1
