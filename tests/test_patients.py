"""The patient list, search, the patient page and its tabs, duplicates, and who sees whom."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from core.audit import history
from patients.models import Patient
from patients.views import PatientCrud

from .conftest import client_for, make_user
from .crud_harness import CrudHarness
from .scheduling_factories import at, book, patient


def patient_data(**changes: str) -> dict[str, str]:
    data = {
        "first_name": "Sanne", "last_name": "de Vries", "date_of_birth": "1975-11-23",
        "email": "sanne@example.nl", "phone": "06 1234 5678", "street": "Lindelaan 3",
        "postal_code": "3511ab", "city": "Utrecht", "language": "nl",
    }
    return data | changes


class TestPatientScreen(CrudHarness):
    crud = PatientCrud()
    list_text = "Pietersen"
    search_text = "piet"

    def make_object(self) -> Patient:
        return patient("Pieter", "Pietersen")

    def valid_data(self) -> dict[str, Any]:
        return patient_data()

    def edit_data(self, obj: Any) -> dict[str, Any]:
        return patient_data(first_name=obj.first_name, last_name=obj.last_name,
                            date_of_birth=str(obj.date_of_birth), email="nieuw@example.nl")


@pytest.mark.django_db
def test_receptionist_registers_a_patient_and_lands_on_their_page(
    receptionist_client: Client, receptionist: User
) -> None:
    response = receptionist_client.post("/patients/new/", patient_data())
    created = Patient.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/patients/{created.pk}/"
    assert created.postal_code == "3511 AB"
    assert history(created).get().user == receptionist


@pytest.mark.django_db
def test_date_of_birth_is_required_and_sane(receptionist_client: Client) -> None:
    for value in ("", "2999-01-01", "1850-05-05"):
        response = receptionist_client.post("/patients/new/", patient_data(date_of_birth=value))
        assert response.status_code == 422
        assert "date_of_birth" in response.context["form"].errors
    assert not Patient.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("changes", [
    {"first_name": "SANNE", "email": "other@example.nl"},  # same name and date of birth
    {"first_name": "Anna", "date_of_birth": "1990-01-01", "email": "Sanne@Example.nl"},
])
def test_duplicates_are_asked_about_before_a_second_record(
    receptionist_client: Client, changes: dict[str, str]
) -> None:
    existing = patient("Sanne", "de Vries", date_of_birth=datetime.date(1975, 11, 23),
                       email="sanne@example.nl")
    receptionist_client.cookies["django_language"] = "en"
    response = receptionist_client.post("/patients/new/", patient_data(**changes))
    assert response.status_code == 422
    body = response.content.decode()
    assert "may already be registered" in body
    assert f'href="/patients/{existing.pk}/"' in body
    assert 'type="checkbox" name="confirm_duplicate"' in body
    assert Patient.objects.count() == 1
    response = receptionist_client.post(
        "/patients/new/", patient_data(**changes) | {"confirm_duplicate": "on"})
    assert response.status_code == 302
    assert Patient.objects.count() == 2


@pytest.mark.django_db
def test_a_new_patient_form_has_no_duplicate_question(receptionist_client: Client) -> None:
    body = receptionist_client.get("/patients/new/").content.decode()
    assert 'type="checkbox" name="confirm_duplicate"' not in body


@pytest.mark.django_db
@pytest.mark.parametrize("term", [
    "vrie", "sanne vries", "23-11-1975", "1975-11-23", "1975", "sanne@exa", "0612345678",
    "06-12345678",
])
def test_search_finds_by_name_date_of_birth_email_and_phone(
    receptionist_client: Client, term: str
) -> None:
    patient("Sanne", "de Vries", date_of_birth=datetime.date(1975, 11, 23),
            email="sanne@example.nl", phone="06 1234 5678")
    patient("Bert", "Bakker", date_of_birth=datetime.date(1960, 2, 2), phone="030 111 22 33")
    response = receptionist_client.get("/patients/", {"q": term}, headers={"HX-Request": "true"})
    body = response.content.decode()
    assert "Sanne de Vries" in body and "Bakker" not in body


@pytest.mark.django_db
def test_list_sorts_by_surname_without_prefix_and_pages(receptionist_client: Client) -> None:
    for n in range(55):
        patient("Test", f"Zz{n:02d}")
    patient("Sanne", "de Vries")
    patient("Jan", "van Aalst")
    first = receptionist_client.get("/patients/").content.decode()
    assert first.index("Jan van Aalst") < first.index("Sanne de Vries") < first.index("Zz00")
    assert "55" not in first.split("Zz")[-1][:3]  # the last on page 1 is not the last one
    second = receptionist_client.get("/patients/", {"page": 2}).content.decode()
    assert "Zz54" in second and "Zz00" not in second


@pytest.mark.django_db
def test_patient_list_query_count_does_not_grow_with_the_page(
    receptionist: User, practitioner: User
) -> None:
    def count(client: Client) -> int:
        with CaptureQueriesContext(connection) as queries:
            response = client.get("/patients/")
        assert response.status_code == 200
        return len(queries)

    desk, own = client_for(receptionist), client_for(practitioner)
    book(practitioner=practitioner, start=at("2030-03-04", "09:00"), by=receptionist)
    count(desk)  # the first request of all creates the practice row
    one = (count(desk), count(own))
    for n in range(49):
        book(practitioner=practitioner, start=at("2030-03-05", "08:00")
             + datetime.timedelta(minutes=30 * n), by=receptionist)
    assert Patient.objects.count() == 50
    fifty = (count(desk), count(own))
    assert one == fifty
    assert client_for(receptionist).get("/patients/").content.decode().count("/edit/") == 50


# ── Who sees which patient ───────────────────────────────────────────────────────────────

@pytest.fixture
def two_patients(receptionist: User, practitioner: User) -> tuple[Patient, Patient]:
    mine, other = patient("Mijn", "Patiënt"), patient("Andere", "Patiënt")
    colleague = make_user("collega", "practitioner")
    book(practitioner=practitioner, start=at("2030-03-04", "09:00"), who=mine, by=receptionist)
    book(practitioner=colleague, start=at("2030-03-04", "09:00"), who=other, by=receptionist)
    return mine, other


@pytest.mark.django_db
def test_practitioner_sees_only_their_own_patients(
    practitioner_client: Client, two_patients: tuple[Patient, Patient]
) -> None:
    mine, other = two_patients
    body = practitioner_client.get("/patients/").content.decode()
    assert "Mijn Patiënt" in body and "Andere Patiënt" not in body
    assert "/patients/new/" not in body and "/edit/" not in body  # no managing
    found = practitioner_client.get("/patients/", {"q": "andere"},
                                    headers={"HX-Request": "true"}).content.decode()
    assert "Andere" not in found


@pytest.mark.django_db
def test_practitioner_gets_403_for_any_other_patient_also_by_guessing(
    practitioner_client: Client, two_patients: tuple[Patient, Patient]
) -> None:
    mine, other = two_patients
    assert practitioner_client.get(f"/patients/{mine.pk}/").status_code == 200
    assert practitioner_client.get(f"/patients/{mine.pk}/appointments/").status_code == 200
    unknown = other.pk + 1000
    for url in (f"/patients/{other.pk}/", f"/patients/{other.pk}/appointments/",
                f"/patients/{other.pk}/emails/", f"/patients/{unknown}/",
                f"/patients/{mine.pk}/edit/", "/patients/new/", "/patients/lookup/?q=and"):
        assert practitioner_client.get(url).status_code == 403, url


@pytest.mark.django_db
def test_practitioner_has_no_packages_invoices_or_emails_tab(
    practitioner_client: Client, receptionist_client: Client,
    two_patients: tuple[Patient, Patient],
) -> None:
    mine, _other = two_patients
    body = practitioner_client.get(f"/patients/{mine.pk}/").content.decode()
    assert f"/patients/{mine.pk}/appointments/" in body
    # Emails carry invoices: finance, which practitioners do not see.
    assert f"/patients/{mine.pk}/emails/" not in body
    assert f"/patients/{mine.pk}/packages/" not in body
    assert f"/patients/{mine.pk}/invoices/" not in body
    receptionist_client.cookies["django_language"] = "en"
    assert practitioner_client.get(f"/patients/{mine.pk}/emails/").status_code == 403
    for tab in ("packages", "invoices"):
        assert practitioner_client.get(f"/patients/{mine.pk}/{tab}/").status_code == 403
        assert receptionist_client.get(f"/patients/{mine.pk}/{tab}/").status_code == 200


@pytest.mark.django_db
def test_invoices_tab_lists_only_this_patients_invoices(
    receptionist_client: Client, receptionist: Any, two_patients: tuple[Patient, Patient],
) -> None:
    from . import invoice_factories as inv

    mine, other = two_patients
    product = inv.product()
    inv.draft(mine, [(product, 2)], by=receptionist)
    inv.draft(other, [(product, 1)], by=receptionist)
    body = receptionist_client.get(f"/patients/{mine.pk}/invoices/").content.decode()
    assert body.count("/invoices/") >= 2 and f"/invoices/new/?patient={mine.pk}" in body
    assert str(mine) in body and str(other) not in body


@pytest.mark.django_db
def test_receptionist_sees_every_patient_and_404_for_none(
    receptionist_client: Client, two_patients: tuple[Patient, Patient]
) -> None:
    _mine, other = two_patients
    assert receptionist_client.get(f"/patients/{other.pk}/").status_code == 200
    assert receptionist_client.get(f"/patients/{other.pk + 1000}/").status_code == 404


@pytest.mark.django_db
def test_appointments_tab_lists_upcoming_and_cancelled(
    receptionist: User, receptionist_client: Client, practitioner: User
) -> None:
    from scheduling import services

    who = patient("Jan", "Jansen")
    first, second = book(practitioner=practitioner, start=at("2030-03-04", "09:00"), who=who,
                         weeks=2, by=receptionist)
    services.cancel_appointment(second, cancelled_by="patient", reason="Op vakantie",
                                by=receptionist)
    receptionist_client.cookies["django_language"] = "en"
    body = receptionist_client.get(f"/patients/{who.pk}/appointments/").content.decode()
    assert "Mon 4 March 2030" in body and "Mon 11 March 2030" in body
    assert "Op vakantie" in body and "Cancelled" in body
    assert body.count('class="cancelled"') == 1


@pytest.mark.django_db
def test_lookup_offers_patients_as_choices(receptionist_client: Client) -> None:
    patient("Jan", "Jansen")
    chosen = patient("Piet", "Pieters")
    query = {"patient_search": "jans", "patient": str(chosen.pk)}
    body = receptionist_client.get("/patients/lookup/", query).content.decode()
    assert 'type="radio" name="patient"' in body
    assert "Jan Jansen" in body and "Piet Pieters" in body  # the chosen one stays
    assert body.count("checked") == 1
