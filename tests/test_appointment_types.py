"""Settings → Appointments → Standard appointments: the generic screen tests, the article's
advice, credits defaulting to 1 with a package, and archived packages refused."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from core.money import eur
from scheduling.models import AppointmentType
from scheduling.type_screens import AppointmentTypeCrud

from . import factories
from .crud_harness import CrudHarness

LIST = "/settings/appointments/standard/"


def type_data(**changes: Any) -> dict[str, Any]:
    data = {"name": "Behandeling", "duration_minutes": "30", "colour": "#1f6f8b", "price": "",
            "package": "", "credits": "", "is_active": "on"}
    return data | changes


class TestAppointmentTypeScreen(CrudHarness):
    crud = AppointmentTypeCrud()
    list_text = "Manuele therapie"
    search_text = "manuele"

    def make_object(self) -> AppointmentType:
        return factories.appointment_type("Manuele therapie")

    def valid_data(self) -> dict[str, Any]:
        return type_data(package=factories.package("Fysio").pk, credits="1")

    def edit_data(self, obj: Any) -> dict[str, Any]:
        return type_data(name=obj.name, duration_minutes="45", package=obj.package_id,
                         credits="1")


@pytest.mark.django_db
def test_form_advises_one_credit_per_appointment(admin_client: Client) -> None:
    response = admin_client.get(f"{LIST}add/")
    body = response.content.decode()
    assert "Wij adviseren één credit per afspraak." in body
    assert response.context["form"]["credits"].value() == 1
    admin_client.cookies["django_language"] = "en"
    english = admin_client.get(f"{LIST}add/").content.decode()
    assert "We advise one credit per appointment." in english


@pytest.mark.django_db
def test_credits_default_to_one_with_a_package_and_are_dropped_without(
    admin_client: Client,
) -> None:
    package = factories.package("Fysio 10×")
    assert admin_client.post(f"{LIST}add/", type_data(package=package.pk)).status_code == 302
    assert AppointmentType.objects.get(name="Behandeling").credits == 1
    data = type_data(name="Intake", duration_minutes="45", price="65", credits="1")
    assert admin_client.post(f"{LIST}add/", data).status_code == 302
    intake = AppointmentType.objects.get(name="Intake")
    assert intake.credits is None and intake.package is None and intake.price == eur("65")


@pytest.mark.django_db
def test_list_shows_duration_colour_package_and_credits(admin_client: Client) -> None:
    package = factories.package("Fysio 10×")
    factories.appointment_type("Behandeling", package_=package, credits=2, colour="#aa0000")
    factories.appointment_type("Intake", package_=None, package=None, credits=None,
                               duration_minutes=45, price=eur("65"))
    body = admin_client.get(LIST).content.decode()
    assert "Standaard afspraken" in body and "+ Afspraaktype toevoegen" in body
    assert "30 min" in body and "45 min" in body and "#aa0000" in body
    assert "Fysio 10×" in body and "€ 65,00" in body and "Credits per afspraak" in body


@pytest.mark.django_db
def test_type_in_use_is_archived_not_deleted(admin: Any, admin_client: Client) -> None:
    import datetime

    from django.utils import timezone

    from patients.models import Patient
    from scheduling.models import Appointment

    kind = factories.appointment_type("Behandeling")
    start = timezone.now()
    Appointment.objects.create(
        patient=Patient.objects.create(first_name="Piet", last_name="Jansen"),
        practitioner=admin, type=kind, start=start,
        end=start + datetime.timedelta(minutes=30), idempotency_key="a1",
    )
    response = admin_client.post(f"{LIST}{kind.pk}/delete/", follow=True)
    kind.refresh_from_db()
    assert not kind.is_active
    assert "wordt gebruikt door 1 afspraak" in response.content.decode()


@pytest.mark.django_db
def test_archived_package_is_refused(admin_client: Client) -> None:
    archived = factories.package("Oud", is_active=False)
    response = admin_client.post(f"{LIST}add/", type_data(package=archived.pk, credits="1"))
    assert response.status_code == 422
    assert "gearchiveerd" in " ".join(response.context["form"].errors["package"])
    assert not AppointmentType.objects.exists()
