"""The calendar screens: views, booking through the form, dialogs and who may use them."""

from __future__ import annotations

import datetime
import re
import uuid
from decimal import Decimal

import pytest
import time_machine
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from scheduling.models import Appointment, WorkingHours

from .conftest import client_for, make_user
from .scheduling_factories import appointment_type, at, book, patient, working_week

MONDAY = "2030-03-04"


@pytest.fixture
def english(client: Client) -> None:
    client.cookies["django_language"] = "en"


def english_client(user: User) -> Client:
    client = client_for(user)
    client.cookies["django_language"] = "en"
    return client


def week(client: Client, **params: str) -> str:
    response = client.get("/calendar/", {"view": "week", "date": MONDAY} | params)
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.django_db
def test_practitioner_sees_their_own_week_by_default(
    receptionist: User, practitioner: User
) -> None:
    working_week(practitioner)
    book(practitioner=practitioner, start=at(MONDAY, "09:00"), who=patient("Jan", "Jansen"),
         kind=appointment_type("Intake", 60, colour="#7a5195"), by=receptionist)
    with time_machine.travel(at(MONDAY, "10:20"), tick=False):
        body = english_client(practitioner).get("/calendar/").content.decode()
    assert "Week 10" in body and 'aria-current="page">Week<' in body
    assert len(re.findall(r'class="col( today)?"', body)) == 5  # no empty weekend
    assert "Jan Jansen" in body and "Intake" in body and "--type: #7a5195" in body
    assert body.count('class="now"') == 1 and "today" in body
    assert "/calendar/book/" not in body  # practitioners do not book


@pytest.mark.django_db
def test_front_desk_sees_all_practitioners_side_by_side(
    receptionist: User, practitioner: User
) -> None:
    colleague = make_user("carla", "practitioner")
    admin_who_treats = make_user("bea", "administrator")
    plain_admin = make_user("zonder", "administrator")
    working_week(admin_who_treats)
    book(practitioner=colleague, start=at(MONDAY, "09:00"), who=patient("Piet", "Puk"),
         by=receptionist)
    body = english_client(receptionist).get("/calendar/", {"date": MONDAY}).content.decode()
    assert 'aria-current="page">All practitioners<' in body
    heads = re.findall(r'<div class="col-head[^"]*">\s*([^<]+?)\s*<', body)
    assert heads == ["Bea", "Carla", "Fysio"]
    assert plain_admin.first_name not in heads
    assert "Piet Puk" in body and "/calendar/book/?practitioner=" in body


@pytest.mark.django_db
def test_outside_working_hours_is_shaded_and_the_grid_widens(
    receptionist: User, practitioner: User
) -> None:
    working_week(practitioner, "08:30", "17:00")
    book(practitioner=practitioner, start=at(MONDAY, "19:00"), by=receptionist)
    body = week(client_for(receptionist), practitioner=str(practitioner.pk))
    monday = body.split('data-day="2030-03-04"')[1].split('data-day="2030-03-05"')[0]
    slots = re.findall(r'class="slot( off)?"', monday)
    assert len(slots) == 4 * (20 - 8)  # 08:00 to 20:00 in quarters
    assert [bool(s) for s in slots[:3]] == [True, True, False]  # 08:00, 08:15 shaded; 08:30 not
    assert "19:00" in monday


@pytest.mark.django_db
def test_navigation_moves_by_a_week_or_a_day(receptionist: User, practitioner: User) -> None:
    client = client_for(receptionist)
    body = week(client, practitioner=str(practitioner.pk))
    assert "date=2030-02-25" in body and "date=2030-03-11" in body
    day = client.get("/calendar/", {"view": "day", "date": MONDAY}).content.decode()
    assert "date=2030-03-03" in day and "date=2030-03-05" in day
    assert client.get("/calendar/", {"date": "2030-02-30"}).status_code == 200  # no such day


@pytest.mark.django_db
def test_cancelled_appointments_show_only_when_asked(
    receptionist: User, practitioner: User
) -> None:
    from scheduling import services

    [made] = book(practitioner=practitioner, start=at(MONDAY, "09:00"),
                  who=patient("Weg", "Geweest"), by=receptionist)
    services.cancel_appointment(made, cancelled_by="practice", reason="Ziek", by=receptionist)
    client = client_for(receptionist)
    assert "Weg Geweest" not in week(client, practitioner=str(practitioner.pk))
    shown = week(client, practitioner=str(practitioner.pk), cancelled="1")
    assert "Weg Geweest" in shown and "appt cancelled" in shown


@pytest.mark.django_db
def test_practitioner_sees_a_colleagues_unknown_patient_only_as_occupied(
    receptionist: User, practitioner: User
) -> None:
    colleague = make_user("collega", "practitioner")
    [theirs] = book(practitioner=colleague, start=at(MONDAY, "09:00"),
                    who=patient("Geheim", "Persoon"), by=receptionist)
    client = english_client(practitioner)
    body = client.get("/calendar/", {"view": "all", "date": MONDAY}).content.decode()
    assert "Geheim" not in body and "Occupied" in body
    assert client.get(f"/calendar/appointments/{theirs.pk}/").status_code == 403
    assert client.get("/calendar/appointments/999999/").status_code == 403


@pytest.mark.django_db
def test_a_colleagues_occupied_block_never_shows_its_payment_state(
    receptionist: User, practitioner: User
) -> None:
    from scheduling import grid

    colleague = make_user("collega", "practitioner")
    [theirs] = book(practitioner=colleague, start=at(MONDAY, "09:00"),
                    who=patient("Geheim", "Persoon"), by=receptionist)
    day = datetime.date.fromisoformat(MONDAY)

    def block(visible: set[int] | None) -> grid.Block:
        [column] = grid.build([(day, colleague)], hours={}, appointments=[theirs], first=480,
                              last=1080, now=at(MONDAY, "08:00"), book_href=None,
                              visible_patients=visible, unpaid={theirs.pk})
        return column.blocks[0]

    assert block(None).unpaid  # the front desk sees every patient, and the flag
    assert not block(set()).unpaid and not block(set()).visible  # shown as Occupied only


@pytest.mark.django_db
def test_week_view_query_count_does_not_grow_with_appointments(
    receptionist: User, practitioner: User
) -> None:
    working_week(practitioner)

    def count(user: User) -> tuple[int, int]:
        """Queries for the week view, and appointments it shows."""
        client = client_for(user)
        client.get("/calendar/")  # the very first request creates the practice row
        with CaptureQueriesContext(connection) as queries:
            body = week(client, practitioner=str(practitioner.pk))
        return len(queries), body.count("data-appointment=")

    book(practitioner=practitioner, start=at(MONDAY, "08:00"), by=receptionist)
    one = [count(receptionist), count(practitioner)]
    for day in range(5):
        for slot in range(10 if day else 9):
            book(practitioner=practitioner, by=receptionist,
                 start=at(MONDAY, "12:00") + datetime.timedelta(days=day, minutes=30 * slot))
    fifty = [count(receptionist), count(practitioner)]
    assert [n for n, _shown in one] == [n for n, _shown in fifty]
    assert [shown for _n, shown in one] == [1, 1] and [shown for _n, shown in fifty] == [50, 50]


# ── Booking through the form ─────────────────────────────────────────────────────────────

def booking(who: int, practitioner: int, kind: int, **changes: str) -> dict[str, str]:
    return {"patient": str(who), "practitioner": str(practitioner), "appointment_type": str(kind),
            "date": MONDAY, "time": "10:00", "weeks": "1", "note": "",
            "idempotency_key": uuid.uuid4().hex} | changes


@pytest.mark.django_db
def test_clicking_a_slot_opens_a_prefilled_form(receptionist: User, practitioner: User) -> None:
    who = patient("Jan", "Jansen")
    query = {"practitioner": str(practitioner.pk), "start": f"{MONDAY}T10:15",
             "patient": str(who.pk)}
    response = client_for(receptionist).get("/calendar/book/", query,
                                            headers={"HX-Request": "true"})
    body = response.content.decode()
    assert "<html" not in body  # the dialog's content only
    assert 'value="2030-03-04"' in body and 'value="10:15"' in body
    assert re.search(r'name="idempotency_key" value="[0-9a-f]{32}"', body)
    assert "Jan Jansen" in body and "checked" in body


@pytest.mark.django_db
def test_booking_through_the_form_and_a_double_submit_makes_one(
    receptionist: User, practitioner: User
) -> None:
    client = client_for(receptionist)
    data = booking(patient().pk, practitioner.pk, appointment_type().pk, weeks="3",
                   next=f"/calendar/?view=week&practitioner={practitioner.pk}&date=2030-02-01")
    first = client.post("/calendar/book/", data, headers={"HX-Request": "true"})
    again = client.post("/calendar/book/", data, headers={"HX-Request": "true"})
    assert first.status_code == again.status_code == 200
    assert first["HX-Redirect"] == (f"/calendar/?view=week&practitioner={practitioner.pk}"
                                    f"&date={MONDAY}")
    assert Appointment.objects.count() == 3


@pytest.mark.django_db
def test_a_clash_in_the_form_keeps_the_input_and_says_why(
    receptionist: User, practitioner: User
) -> None:
    book(practitioner=practitioner, start=at("2030-03-11", "10:15"), by=receptionist)
    client = english_client(receptionist)
    who = patient("Jan", "Jansen")
    response = client.post("/calendar/book/", booking(who.pk, practitioner.pk,
                                                      appointment_type().pk, weeks="2"))
    assert response.status_code == 422
    body = response.content.decode()
    assert "already has an appointment on Monday 11 March 2030 10:15" in body
    assert "Jan Jansen" in body and 'value="2"' in body
    assert Appointment.objects.count() == 1


@pytest.mark.django_db
def test_the_form_refuses_a_package_type_without_credits_clearly(
    receptionist: User, practitioner: User
) -> None:
    from packages.models import Package

    package = Package.objects.create(name="Fysio 10×", internal_rate=Decimal("60.00"))
    kind = appointment_type("Uit pakket", package=package, credits=1)
    response = english_client(receptionist).post(
        "/calendar/book/", booking(patient().pk, practitioner.pk, kind.pk))
    assert response.status_code == 422
    assert "Insufficient credits: 0 available in ‘Fysio 10×’, 1 needed" in (
        response.content.decode())
    assert not Appointment.objects.exists()


@pytest.mark.django_db
def test_booking_needs_a_patient_and_the_front_desk(
    receptionist: User, practitioner: User
) -> None:
    data = booking(0, practitioner.pk, appointment_type().pk, patient="")
    response = english_client(receptionist).post("/calendar/book/", data)
    assert response.status_code == 422 and "Find the patient" in response.content.decode()
    assert client_for(practitioner).get("/calendar/book/").status_code == 403
    assert client_for(practitioner).post("/calendar/book/", data).status_code == 403


@pytest.mark.django_db
def test_reschedule_cancel_and_mark_through_the_dialogs(
    receptionist: User, practitioner: User
) -> None:
    [made] = book(practitioner=practitioner, start=at(MONDAY, "09:00"), by=receptionist)
    with time_machine.travel(at(MONDAY, "08:00"), tick=False):
        desk = english_client(receptionist)  # logged in at that time: sessions expire
        form = desk.get(f"/calendar/appointments/{made.pk}/edit/").context["form"]
        data = {"date": MONDAY, "time": "09:30", "practitioner": practitioner.pk,
                "appointment_type": made.type_id, "note": "Later",
                "version": form.initial["version"]}
        assert desk.post(f"/calendar/appointments/{made.pk}/edit/", data).status_code == 302
        # The same form again is stale now.
        stale = desk.post(f"/calendar/appointments/{made.pk}/edit/", data | {"time": "11:00"})
        assert stale.status_code == 422 and "Someone else changed" in stale.content.decode()
        cancel = desk.get(f"/calendar/appointments/{made.pk}/cancel/").content.decode()
        assert "late cancellation" in cancel  # less than 24 hours ahead
    with time_machine.travel(at(MONDAY, "10:05"), tick=False):
        own, desk = client_for(practitioner), english_client(receptionist)
        detail = own.get(f"/calendar/appointments/{made.pk}/").content.decode()
        assert 'value="attended"' in detail and "Edit or reschedule" not in detail
        response = own.post(f"/calendar/appointments/{made.pk}/status/", {"status": "no_show"})
        assert response.status_code == 302
        made.refresh_from_db()
        assert made.status == "no_show" and made.note == "Later"
        assert timezone_hm(made.start) == "09:30"
        # The practitioner does not cancel; the front desk no longer can once it was marked.
        assert own.post(f"/calendar/appointments/{made.pk}/cancel/",
                        {"cancelled_by": "patient", "reason": "x"}).status_code == 403
        refused = desk.post(f"/calendar/appointments/{made.pk}/cancel/",
                            {"cancelled_by": "patient", "reason": "x"})
        assert refused.status_code == 422


def timezone_hm(moment: datetime.datetime) -> str:
    from django.utils import timezone

    return timezone.localtime(moment).strftime("%H:%M")


@pytest.mark.django_db
def test_a_practitioner_cannot_mark_a_colleagues_appointment(
    receptionist: User, practitioner: User
) -> None:
    colleague = make_user("collega", "practitioner")
    shared = patient("Gedeelde", "Patiënt")
    book(practitioner=practitioner, start=at(MONDAY, "08:00"), who=shared, by=receptionist)
    [theirs] = book(practitioner=colleague, start=at(MONDAY, "09:00"), who=shared,
                    by=receptionist)
    with time_machine.travel(at(MONDAY, "12:00"), tick=False):
        own = english_client(practitioner)
        detail = own.get(f"/calendar/appointments/{theirs.pk}/")  # may see: a shared patient
        assert detail.status_code == 200 and 'value="attended"' not in detail.content.decode()
        response = own.post(f"/calendar/appointments/{theirs.pk}/status/",
                            {"status": "attended"})
        assert response.status_code == 422
        assert "cannot make this change" in response.content.decode()
    theirs.refresh_from_db()
    assert theirs.status == "booked"


# ── Settings → Working hours ─────────────────────────────────────────────────────────────

@pytest.mark.django_db
def test_admin_sets_working_hours(admin_client: Client, practitioner: User) -> None:
    url = f"/settings/appointments/working-hours/{practitioner.pk}/"
    seen = admin_client.get(url).context["form"].initial["seen"]
    data = {"seen": seen, "start_0": "08:30", "end_0": "17:00", "start_4": "09:00",
            "end_4": "12:30"}
    assert admin_client.post(url, data).status_code == 302
    assert WorkingHours.objects.filter(practitioner=practitioner).count() == 2
    listing = admin_client.get("/settings/appointments/working-hours/").content.decode()
    assert "08:30–17:00" in listing and "09:00–12:30" in listing
    stale = admin_client.post(url, data | {"end_0": "16:00"})
    assert stale.status_code == 422


@pytest.mark.django_db
def test_working_hours_need_both_times_in_order(admin_client: Client, practitioner: User) -> None:
    url = f"/settings/appointments/working-hours/{practitioner.pk}/"
    for data in ({"start_0": "08:30"}, {"start_1": "17:00", "end_1": "09:00"}):
        assert admin_client.post(url, data).status_code == 422
    assert not WorkingHours.objects.exists()
    receptionist = make_user("receptie", "receptionist")
    assert admin_client.get(f"/settings/appointments/working-hours/{receptionist.pk}/") \
        .status_code == 404  # only people who may treat have working hours


@pytest.mark.django_db
def test_the_way_back_is_only_ever_a_calendar_page(receptionist: User, practitioner: User) -> None:
    [made] = book(practitioner=practitioner, start=at(MONDAY, "09:00"), by=receptionist)
    client = client_for(receptionist)
    for evil in ("javascript:alert(1)", "https://evil.example/calendar/", "//evil.example/"):
        body = client.get(f"/calendar/appointments/{made.pk}/", {"next": evil}).content.decode()
        dialog = body.split('id="panel"')[1]
        assert "evil" not in dialog and "javascript:" not in dialog
    good = client.get(f"/calendar/appointments/{made.pk}/",
                      {"next": "/calendar/?view=week"}).content.decode()
    assert 'href="/calendar/?view=week"' in good
