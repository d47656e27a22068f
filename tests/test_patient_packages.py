"""The patient page's Packages tab: balances and history for the front desk, and an
administrator's import, grant, adjust and extend — each through the ledger, audited."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from djmoney.money import Money

from core.audit import history
from packages import ledger
from packages.ledger_models import CreditBalance, CreditEntry, CreditLot
from packages.models import Package
from patients.models import Patient
from scheduling import services

from .conftest import client_for
from .scheduling_factories import appointment_type, at, patient

SOON = datetime.date.today() + datetime.timedelta(days=7)


def english(user: User) -> Client:
    client = client_for(user)
    client.cookies["django_language"] = "en"
    return client


def english_date(day: object) -> str:
    """A short date as the English screens write it (1 Dec. 2026, 4 March 2030)."""
    from django.utils import dateformat, translation

    with translation.override("en"):
        return dateformat.format(day, "j N Y")


@pytest.fixture
def fysio(db) -> Package:  # type: ignore[no-untyped-def]
    return Package.objects.create(name="Fysio 10×", internal_rate=Money(55, "EUR"),
                                  validity_unit="months", validity_count=12)


def imported(who: Patient, package: Package, credits: int) -> CreditLot:
    return ledger.grant_lot(patient=who, package=package, credits=credits,
                            value_total=Money(55 * credits, "EUR"), source="import",
                            pending=False, key=f"import:{uuid.uuid4().hex}", by=None)


def test_the_tab_shows_balances_history_and_badges(
    fysio: Package, receptionist: User, practitioner: User, django_assert_num_queries: Any
) -> None:
    who = patient("Piet")
    imported(who, fysio, 4)
    kind = appointment_type("Fysio uit pakket", package=fysio, credits=1)
    services.book_appointment(patient=who, practitioner=practitioner, appointment_type=kind,
                              start=at(SOON, "09:00"), idempotency_key=uuid.uuid4().hex,
                              by=receptionist)
    client = english(receptionist)
    client.get(f"/patients/{who.pk}/packages/")  # warm the session and the menu
    with django_assert_num_queries(11):  # the history: its count, its page, its entries
        body = client.get(f"/patients/{who.pk}/packages/").content.decode()
    assert "Fysio 10×: 3 available" in body
    assert 'data-available>3<' in body
    assert "Reserved" in body and f"Fysio uit pakket, {english_date(SOON)} 09:00" in body
    assert "Receptie" in body  # who booked it
    assert "+ Import" not in body and "Adjust" not in body  # administrators only
    other = patient("Kees")
    imported(other, fysio, 9)
    imported(other, fysio, 1)
    for n in range(3):
        services.book_appointment(
            patient=other, practitioner=practitioner, appointment_type=kind,
            start=at(SOON, f"1{n}:00"), idempotency_key=uuid.uuid4().hex,
            by=receptionist)
    with django_assert_num_queries(11):  # the same for more lots and entries
        client.get(f"/patients/{other.pk}/packages/")


def test_practitioners_do_not_see_the_tab(fysio: Package, practitioner: User) -> None:
    who = patient("Piet")
    assert client_for(practitioner).get(f"/patients/{who.pk}/packages/").status_code == 403


@pytest.mark.parametrize("url", ["import/", "grant/"])
def test_only_administrators_change_credits(fysio: Package, receptionist: User, url: str) -> None:
    who = patient("Piet")
    lot = imported(who, fysio, 2)
    client = client_for(receptionist)
    assert client.get(f"/patients/{who.pk}/packages/{url}").status_code == 403
    assert client.post(f"/patients/{who.pk}/packages/lots/{lot.pk}/adjust/",
                       {"change": "5", "reason": "x"}).status_code == 403
    assert CreditBalance.objects.get(patient=who).available == 2


def test_an_administrator_imports_at_the_internal_rate(fysio: Package, admin: User) -> None:
    who = patient("Piet")
    client = english(admin)
    assert "Value per credit" in client.get(f"/patients/{who.pk}/packages/import/").content.decode()
    key = uuid.uuid4().hex
    form = {"package": str(fysio.pk), "credits": "6", "value_per_credit": "",
            "expires_on": "2031-01-31", "note": "Uit oud systeem", "idempotency_key": key}
    response = client.post(f"/patients/{who.pk}/packages/import/", form, follow=True)
    assert "6 credits imported in ‘Fysio 10×’." in response.content.decode()
    client.post(f"/patients/{who.pk}/packages/import/", form)  # submitted twice
    [lot] = CreditLot.objects.filter(balance__patient=who)
    assert lot.source == "import" and lot.credits == 6 and lot.available == 6
    assert lot.value_total == Money(330, "EUR") and lot.expires_on == datetime.date(2031, 1, 31)
    assert history(who).filter(changes__has_key="credits imported").count() == 1


def test_grant_adjust_and_extend_need_a_reason(fysio: Package, admin: User) -> None:
    who = patient("Piet")
    client = english(admin)
    url = f"/patients/{who.pk}/packages/"
    refused = client.post(url + "grant/", {"package": str(fysio.pk), "credits": "2",
                                           "reason": "", "idempotency_key": uuid.uuid4().hex})
    assert refused.status_code == 422 and "Reason: This field is required." in (
        refused.content.decode())
    client.post(url + "grant/", {"package": str(fysio.pk), "credits": "2", "reason": "Goodwill",
                                 "idempotency_key": uuid.uuid4().hex})
    lot = CreditLot.objects.get(balance__patient=who)
    assert lot.source == "grant" and lot.value_total == Money(110, "EUR")
    too_many = client.post(url + f"lots/{lot.pk}/adjust/", {
        "change": "-3", "reason": "Fout", "idempotency_key": uuid.uuid4().hex})
    assert too_many.status_code == 422
    assert "Only 2 credits of this lot are available to take away." in too_many.content.decode()
    client.post(url + f"lots/{lot.pk}/adjust/", {"change": "-1", "reason": "Dubbel",
                                                 "idempotency_key": uuid.uuid4().hex})
    assert lot.expires_on is not None
    later = lot.expires_on + datetime.timedelta(days=90)
    client.post(url + f"lots/{lot.pk}/extend/", {"expires_on": later.isoformat(),
                                                 "reason": "Blessure",
                                                 "idempotency_key": uuid.uuid4().hex})
    lot.refresh_from_db()
    assert lot.available == 1 and lot.expires_on == later
    kinds = list(CreditEntry.objects.filter(lot=lot).values_list("kind", "reason"))
    assert kinds == [("grant", "Goodwill"), ("adjust", "Dubbel"), ("extend", "Blessure")]
    assert history(who).count() == 3
    body = client.get(url).content.decode()
    assert "Goodwill" in body and "Blessure" in body and "Beheerder" in body
    assert ledger.check().ok
