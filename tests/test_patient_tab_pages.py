"""The patient page's long lists a page at a time: past appointments and the credit history
newest first, upcoming appointments soonest first, each with the shared page links, its own
page parameter, an HTMX swap of just that list, and the same queries for any length."""

from __future__ import annotations

import datetime
import re
import uuid
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from djmoney.money import Money

from packages import ledger
from packages.ledger_models import CreditEntry
from packages.models import Package
from patients.models import Patient
from scheduling.models import Appointment

from .conftest import client_for, make_user
from .scheduling_factories import at, book, patient

HTMX = {"HX-Request": "true"}


def english(user: User) -> Client:
    client = client_for(user)
    client.cookies["django_language"] = "en"
    return client


def history_of(who: Patient, *, past: int, upcoming: int, practitioner: User, by: User,
               time: str = "09:00") -> None:
    """`past` weekly appointments from 2020 on (long gone) and `upcoming` from 2030 on."""
    for first, count in ((at("2020-01-06", time), past), (at("2030-03-04", time), upcoming)):
        while count:
            weeks = min(count, 52)
            book(practitioner=practitioner, start=first, who=who, weeks=weeks, by=by)
            first += datetime.timedelta(weeks=weeks)
            count -= weeks


def shown(body: str, attribute: str = "data-appointment") -> list[int]:
    return [int(pk) for pk in re.findall(rf'{attribute}="(\d+)"', body)]


def past_part(body: str) -> str:
    return body.split('id="past-appointments"', 1)[1]


def newest_past(who: Patient) -> list[int]:
    return list(Appointment.objects.filter(patient=who, start__year__lt=2030)
                .order_by("-start", "-pk").values_list("pk", flat=True))


def tab_queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


# ── Appointments ────────────────────────────────────────────────────────────────────────

@pytest.fixture
def long_history(receptionist: User, practitioner: User) -> Patient:
    who = patient("Jan", "Jansen")
    history_of(who, past=60, upcoming=2, practitioner=practitioner, by=receptionist)
    return who


def test_past_appointments_come_newest_first_25_a_page(
    receptionist: User, long_history: Patient
) -> None:
    client, url = english(receptionist), f"/patients/{long_history.pk}/appointments/"
    expected = newest_past(long_history)
    first = client.get(url).content.decode()
    assert first.index("Upcoming") < first.index("Past")
    assert len(shown(first)) == 2 + 25  # both upcoming ones, then a page of the past
    assert shown(past_part(first)) == expected[:25]
    assert "Page 1 of 3 · 60 in all" in first
    assert 'href="?past_page=2"' in first and 'hx-target="#past-appointments"' in first
    second = client.get(url, {"past_page": "2"}).content.decode()
    assert shown(past_part(second)) == expected[25:50]
    assert "Page 2 of 3 · 60 in all" in second and 'href="?past_page=1"' in second
    assert 'href="?past_page=3"' in second
    assert 'aria-current="page">Appointments<' in second  # the tab stays selected
    third = client.get(url, {"past_page": "3"}).content.decode()
    assert shown(past_part(third)) == expected[50:]


def test_a_page_link_swaps_only_its_list_and_keeps_the_other_lists_page(
    receptionist: User, long_history: Patient
) -> None:
    client, url = english(receptionist), f"/patients/{long_history.pk}/appointments/"
    fragment = client.get(url, {"past_page": "2", "upcoming_page": "1"},
                          headers=HTMX | {"HX-Target": "past-appointments"}).content.decode()
    assert "<nav class=\"tabs\"" not in fragment and "<h1>" not in fragment
    assert shown(fragment) == newest_past(long_history)[25:50]
    assert 'href="?upcoming_page=1&amp;past_page=3"' in fragment
    upcoming = client.get(url, headers=HTMX | {"HX-Target": "upcoming-appointments"})
    assert len(shown(upcoming.content.decode())) == 2
    # An HTMX request aimed elsewhere (or none) gets the whole page.
    assert "<h1>" in client.get(url, headers=HTMX).content.decode()


def test_many_upcoming_appointments_show_the_first_page_with_links_of_their_own(
    receptionist: User, practitioner: User
) -> None:
    who = patient("Piet")
    history_of(who, past=1, upcoming=55, practitioner=practitioner, by=receptionist)
    client, url = english(receptionist), f"/patients/{who.pk}/appointments/"
    body = client.get(url).content.decode()
    upcoming = body.split('id="past-appointments"')[0]
    soonest = list(Appointment.objects.filter(patient=who, start__year__gte=2030)
                   .order_by("start", "pk").values_list("pk", flat=True))
    assert shown(upcoming) == soonest[:50]
    assert 'href="?upcoming_page=2"' in body and "past_page=2" not in body
    later = client.get(url, {"upcoming_page": "2", "past_page": "1"}).content.decode()
    assert shown(later.split('id="past-appointments"')[0]) == soonest[50:]
    assert len(shown(past_part(later))) == 1


@pytest.mark.parametrize(("number", "page"), [
    ("0", 1), ("-1", 1), ("abc", 1), ("", 1), ("2.5", 1), ("4", 3), ("99999999999999999999", 3),
])
def test_a_bad_page_number_shows_a_sensible_page(
    receptionist: User, long_history: Patient, number: str, page: int
) -> None:
    client, url = english(receptionist), f"/patients/{long_history.pk}/appointments/"
    response = client.get(url, {"past_page": number, "upcoming_page": number})
    assert response.status_code == 200
    body = response.content.decode()
    assert shown(past_part(body)) == newest_past(long_history)[25 * (page - 1):25 * page]
    assert f"Page {page} of 3 · 60 in all" in body


def test_the_appointments_tab_costs_the_same_queries_for_1_and_for_60(
    receptionist: User, practitioner: User, long_history: Patient
) -> None:
    short = patient("Kort")
    history_of(short, past=1, upcoming=1, practitioner=practitioner, by=receptionist,
               time="10:00")
    single = patient("Eén")  # one appointment, so one of the lists is empty
    history_of(single, past=1, upcoming=0, practitioner=practitioner, by=receptionist,
               time="11:00")
    desk, own = client_for(receptionist), client_for(practitioner)
    # The tab's own: the counts, both pages, the "package unpaid" flags of the rows shown
    # (one query; test_payments checks it costs the same with flags and without).
    for client in (desk, own):
        tab_queries(client, f"/patients/{short.pk}/appointments/")  # warm the session
        one = tab_queries(client, f"/patients/{short.pk}/appointments/")
        assert one == tab_queries(client, f"/patients/{single.pk}/appointments/")
        assert one == tab_queries(client, f"/patients/{long_history.pk}/appointments/")
        assert one == tab_queries(client, f"/patients/{long_history.pk}/appointments/"
                                          "?past_page=2&upcoming_page=9")


def test_practitioners_page_only_their_own_patients(
    receptionist: User, practitioner: User, long_history: Patient
) -> None:
    other = patient("Andere")
    history_of(other, past=30, upcoming=0, practitioner=make_user("collega", "practitioner"),
               by=receptionist)
    own = english(practitioner)
    body = own.get(f"/patients/{long_history.pk}/appointments/", {"past_page": "2"})
    assert body.status_code == 200
    for params in ({}, {"past_page": "2"}, {"past_page": "abc"}):
        response = own.get(f"/patients/{other.pk}/appointments/", params,
                           headers=HTMX | {"HX-Target": "past-appointments"})
        assert response.status_code == 403


# ── Packages: the credit history ────────────────────────────────────────────────────────

@pytest.fixture
def fysio(db) -> Package:  # type: ignore[no-untyped-def]
    return Package.objects.create(name="Fysio 10×", internal_rate=Money(55, "EUR"),
                                  validity_unit="months", validity_count=12)


def grants(who: Patient, package: Package, count: int) -> list[int]:
    """`count` imported lots, one entry each; the entries newest first."""
    for n in range(count):
        ledger.grant_lot(patient=who, package=package, credits=1 + n % 3,
                         value_total=Money(55, "EUR"), source="import", pending=False,
                         key=f"import:{uuid.uuid4().hex}", by=None)
    return list(CreditEntry.objects.filter(lot__balance__patient=who)
                .order_by("-created_at", "-pk").values_list("pk", flat=True))


def test_the_credit_history_comes_newest_first_a_page_at_a_time(
    fysio: Package, receptionist: User
) -> None:
    who = patient("Piet")
    newest = grants(who, fysio, 60)
    client, url = english(receptionist), f"/patients/{who.pk}/packages/"
    first = client.get(url).content.decode()
    assert "data-balances" in first and first.count('<tr class="muted">') == 60  # every lot
    assert shown(first, "data-entry") == newest[:25]
    assert "Page 1 of 3 · 60 in all" in first
    assert 'href="?page=2"' in first and 'hx-target="#credit-history"' in first
    second = client.get(url, {"page": "2"}).content.decode()
    assert shown(second, "data-entry") == newest[25:50]
    assert 'aria-current="page">Packages<' in second  # the tab stays selected
    fragment = client.get(url, {"page": "3"},
                          headers=HTMX | {"HX-Target": "credit-history"}).content.decode()
    assert shown(fragment, "data-entry") == newest[50:]
    assert "data-balances" not in fragment and 'href="?page=2"' in fragment


@pytest.mark.parametrize(("number", "page"), [
    ("0", 1), ("-1", 1), ("abc", 1), ("", 1), ("3", 3), ("7", 3),
])
def test_a_bad_history_page_shows_a_sensible_page(
    fysio: Package, receptionist: User, number: str, page: int
) -> None:
    who = patient("Piet")
    newest = grants(who, fysio, 60)
    response = english(receptionist).get(f"/patients/{who.pk}/packages/", {"page": number})
    assert response.status_code == 200
    assert shown(response.content.decode(), "data-entry") == newest[25 * (page - 1):25 * page]


def test_the_packages_tab_costs_the_same_queries_for_1_and_for_60(
    fysio: Package, receptionist: User
) -> None:
    short, long = patient("Kort"), patient("Lang")
    grants(short, fysio, 1)
    grants(long, fysio, 60)
    client = client_for(receptionist)
    tab_queries(client, f"/patients/{short.pk}/packages/")  # warm the session
    one = tab_queries(client, f"/patients/{short.pk}/packages/")
    assert one == tab_queries(client, f"/patients/{long.pk}/packages/")
    assert one == tab_queries(client, f"/patients/{long.pk}/packages/?page=2")


def test_practitioners_still_do_not_get_the_packages_tab(
    fysio: Package, practitioner: User, receptionist: User
) -> None:
    who = patient("Piet")
    book(practitioner=practitioner, start=at("2030-03-04", "09:00"), who=who, by=receptionist)
    grants(who, fysio, 30)
    own = client_for(practitioner)
    for params in ({}, {"page": "2"}):
        assert own.get(f"/patients/{who.pk}/packages/", params).status_code == 403
        assert own.get(f"/patients/{who.pk}/packages/", params,
                       headers=HTMX | {"HX-Target": "credit-history"}).status_code == 403


def test_an_empty_history_has_no_page_links(receptionist: User, practitioner: User,
                                             fysio: Any) -> None:
    who = patient("Leeg")
    body = english(receptionist).get(f"/patients/{who.pk}/appointments/").content.decode()
    assert "No appointments yet." in body and 'class="pagination"' not in body
    body = english(receptionist).get(f"/patients/{who.pk}/packages/").content.decode()
    assert "No credits yet." in body and 'class="pagination"' not in body
