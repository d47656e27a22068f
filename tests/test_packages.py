"""Settings → Invoices → Packages: the generic screen tests, sellable links, delete or
archive, the active-name rule and the package's terms."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from core.audit import history
from core.money import eur
from invoicing.models import Account, Product
from packages import ledger
from packages.models import Package
from packages.views import PackageCrud
from patients.models import Patient
from scheduling.models import AppointmentType

from . import factories
from .crud_harness import CrudHarness

LIST = "/settings/invoices/packages/"


def package_data(**changes: Any) -> dict[str, Any]:
    data = {
        "name": "Dieet 5×", "internal_rate": "45,00", "ledger_account": "",
        "balance_sheet_item": "", "free_cancel_hours": "24", "late_cancel_outcome": "forfeit",
        "no_show_outcome": "forfeit", "validity_unit": "none", "validity_count": "",
    }
    return data | changes


def fingerprint(client: Client, obj: Package) -> str:
    return str(client.get(f"{LIST}{obj.pk}/").context["form"].initial["_fingerprint"])


class TestPackageScreen(CrudHarness):
    crud = PackageCrud()
    list_text = "Fysio Oost"
    search_text = "oost"

    def make_object(self) -> Package:
        return factories.package("Fysio Oost")

    def valid_data(self) -> dict[str, Any]:
        return package_data(
            ledger_account=factories.account(kind=Account.Kind.REVENUE).pk,
            balance_sheet_item=factories.account(kind=Account.Kind.BALANCE_SHEET).pk,
        )

    def edit_data(self, obj: Any) -> dict[str, Any]:
        return package_data(name=obj.name, internal_rate="130,00", is_active="on",
                            ledger_account=obj.ledger_account_id,
                            balance_sheet_item=obj.balance_sheet_item_id)


@pytest.mark.django_db
def test_saving_a_new_package_activates_it(admin_client: Client) -> None:
    response = admin_client.post(f"{LIST}add/", package_data(), follow=True)
    package = Package.objects.get(name="Dieet 5×")
    assert package.is_active
    assert package.internal_rate == eur("45")
    body = response.content.decode()
    assert "Pakket ‘Dieet 5×’ is opgeslagen en actief." in body
    assert "€ 45,00" in body and "Actief" in body


@pytest.mark.django_db
def test_form_shows_the_article_fields_with_asterisks(admin_client: Client) -> None:
    body = admin_client.get(f"{LIST}add/").content.decode()
    for label in ("Naam", "Intern tarief", "Grootboekrekening", "Balanspost"):
        assert f">{label}" in body
    assert body.count('class="req"') >= 2
    assert "Velden met een * zijn verplicht." in body
    assert 'name="is_active"' not in body  # saving a new package activates it


@pytest.mark.django_db
def test_account_choices_follow_their_kind_and_skip_archived_ones(admin_client: Client) -> None:
    revenue = factories.account("8010", name="Omzet fysio")
    balance = factories.account("1920", kind=Account.Kind.BALANCE_SHEET, name="Vooruit")
    factories.account("8099", name="Oud", is_active=False)
    form = admin_client.get(f"{LIST}add/").context["form"]
    assert list(form.fields["ledger_account"].queryset) == [revenue]
    assert list(form.fields["balance_sheet_item"].queryset) == [balance]
    # A balance-sheet account cannot be the ledger account, even when posted by hand.
    response = admin_client.post(f"{LIST}add/", package_data(ledger_account=balance.pk))
    assert response.status_code == 422
    assert "ledger_account" in response.context["form"].errors
    assert not Package.objects.exists()


@pytest.mark.django_db
def test_sellable_says_which_link_is_missing_and_links_to_it(admin_client: Client) -> None:
    package = factories.package("Fysio 10×")
    body = admin_client.get(LIST).content.decode()
    assert "Niet verkoopbaar" in body
    assert f'href="/settings/invoices/products/add/?package={package.pk}"' in body
    assert f'href="/settings/appointments/standard/add/?package={package.pk}"' in body

    factories.product(package_=package)
    body = admin_client.get(LIST).content.decode()
    assert "/settings/invoices/products/add/?package=" not in body
    assert "koppel nog een afspraaktype" in body

    kind = factories.appointment_type(package_=package)
    body = admin_client.get(LIST).content.decode()
    assert "Verkoopbaar" in body and "Niet verkoopbaar" not in body

    kind.is_active = False  # only active links count
    kind.save()
    assert "koppel nog een afspraaktype" in admin_client.get(LIST).content.decode()


@pytest.mark.django_db
def test_sellable_link_opens_the_product_form_with_the_package_chosen(
    admin_client: Client,
) -> None:
    package = factories.package("Fysio 10×")
    form = admin_client.get(f"/settings/invoices/products/add/?package={package.pk}")
    assert str(form.context["form"]["package"].value()) == str(package.pk)


@pytest.mark.django_db
def test_unused_package_is_deleted_after_confirmation(admin_client: Client) -> None:
    package = factories.package("Los pakket")
    confirm = admin_client.get(f"{LIST}{package.pk}/delete/").content.decode()
    assert "Los pakket verwijderen?" in confirm and "Verwijderen</button>" in confirm
    assert Package.objects.filter(pk=package.pk).exists()  # asking changes nothing
    response = admin_client.post(f"{LIST}{package.pk}/delete/", follow=True)
    assert not Package.objects.filter(pk=package.pk).exists()
    assert "Los pakket is verwijderd." in response.content.decode()


@pytest.mark.django_db
def test_package_in_use_is_archived_with_the_reason(admin_client: Client) -> None:
    package = factories.sellable_package("Fysio 10×")
    confirm = admin_client.get(f"{LIST}{package.pk}/delete/").content.decode()
    assert "Fysio 10× archiveren?" in confirm
    assert "1 product en 1 afspraaktype" in confirm
    assert "Archiveren</button>" in confirm

    response = admin_client.post(f"{LIST}{package.pk}/delete/", follow=True)
    package.refresh_from_db()
    assert not package.is_active
    body = response.content.decode()
    assert "wordt gebruikt door 1 product en 1 afspraaktype" in body
    assert "gearchiveerd in plaats van verwijderd" in body
    assert "Gearchiveerd" in body
    entry = history(package).first()
    assert entry is not None and entry.action == "archive"

    # Deleting it again explains why it stays.
    again = admin_client.post(f"{LIST}{package.pk}/delete/", follow=True)
    assert Package.objects.filter(pk=package.pk).exists()
    assert "is al gearchiveerd" in again.content.decode()


@pytest.mark.django_db
def test_credits_alone_keep_a_package_from_being_deleted(admin: Any, admin_client: Client) -> None:
    # No product or type links it, but a patient holds its credits (the ledger's relation).
    package = factories.package("Geïmporteerd")
    patient = Patient.objects.create(first_name="Piet", last_name="Jansen")
    ledger.grant_lot(patient=patient, package=package, credits=3, value_total=eur("180"),
                     source="import", pending=False, key="import-1", by=admin)
    admin_client.post(f"{LIST}{package.pk}/delete/")
    package.refresh_from_db()
    assert not package.is_active


@pytest.mark.django_db
def test_archived_package_cannot_be_linked_to_new_products_or_types(admin_client: Client) -> None:
    active = factories.package("Actief pakket")
    archived = factories.package("Oud pakket", is_active=False)
    for url in ("/settings/invoices/products/add/", "/settings/appointments/standard/add/"):
        choices = list(admin_client.get(url).context["form"].fields["package"].queryset)
        assert choices == [active]
    data = {"code": "X1", "name": "X", "price": "100", "vat_treatment": "exempt",
            "package": archived.pk, "credits_per_unit": "5", "is_active": "on"}
    response = admin_client.post("/settings/invoices/products/add/", data)
    assert response.status_code == 422
    assert "gearchiveerd" in " ".join(response.context["form"].errors["package"])
    assert not Product.objects.exists()


@pytest.mark.django_db
def test_archived_package_keeps_working_where_it_is_already_linked(admin_client: Client) -> None:
    package = factories.package("Fysio 10×")
    product = factories.product("FYS10", package_=package)
    package.is_active = False
    package.save()
    url = f"/settings/invoices/products/{product.pk}/"
    form = admin_client.get(url).context["form"]
    assert package in form.fields["package"].queryset  # still shown as linked
    data = {"code": "FYS10", "name": "Nieuwe naam", "price": "1200", "vat_treatment": "exempt",
            "package": package.pk, "credits_per_unit": "10", "is_active": "on",
            "_fingerprint": form.initial["_fingerprint"]}
    assert admin_client.post(url, data).status_code == 302
    product.refresh_from_db()
    assert product.name == "Nieuwe naam" and product.package == package


@pytest.mark.django_db
def test_names_are_unique_among_active_packages_ignoring_case(admin_client: Client) -> None:
    factories.package("Fysio 10×")
    response = admin_client.post(f"{LIST}add/", package_data(name="FYSIO 10×"))
    assert response.status_code == 422
    errors = " ".join(response.context["form"].errors["name"])
    assert "Er bestaat al een actief pakket met de naam ‘FYSIO 10×’" in errors
    assert Package.objects.count() == 1


@pytest.mark.django_db
def test_an_archived_name_may_be_used_again_but_not_reactivated_twice(
    admin_client: Client,
) -> None:
    old = factories.package("Fysio 10×", is_active=False)
    assert admin_client.post(f"{LIST}add/", package_data(name="fysio 10×")).status_code == 302
    data = package_data(name=old.name, is_active="on", _fingerprint=fingerprint(admin_client, old))
    response = admin_client.post(f"{LIST}{old.pk}/", data)
    assert response.status_code == 422
    assert "name" in response.context["form"].errors
    old.refresh_from_db()
    assert not old.is_active


@pytest.mark.django_db
def test_terms_default_to_24_hours_and_forfeit(admin_client: Client) -> None:
    form = admin_client.get(f"{LIST}add/").context["form"]
    assert form["free_cancel_hours"].value() == 24
    assert form["late_cancel_outcome"].value() == "forfeit"
    assert form["no_show_outcome"].value() == "forfeit"
    assert form["validity_unit"].value() == "none"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("unit", "count", "stored", "error"),
    [
        ("none", "12", None, ""),  # a count without a unit is meaningless: dropped
        ("months", "12", 12, ""),
        ("days", "", None, "Geef het aantal dagen of maanden."),
        ("days", "0", None, "minstens 1"),
        ("months", "121", None, "meer dan tien jaar"),
        ("days", "veel", None, "geheel getal"),
    ],
)
def test_validity_is_none_or_a_number_of_days_or_months(
    admin_client: Client, unit: str, count: str, stored: int | None, error: str
) -> None:
    data = package_data(validity_unit=unit, validity_count=count, late_cancel_outcome="return")
    response = admin_client.post(f"{LIST}add/", data)
    if error:
        assert response.status_code == 422
        assert error in " ".join(response.context["form"].errors["validity_count"])
        assert not Package.objects.exists()
    else:
        assert response.status_code == 302
        package = Package.objects.get()
        assert (package.validity_unit, package.validity_count) == (unit, stored)
        assert package.late_cancel_outcome == "return"


@pytest.mark.django_db
def test_edit_with_pencil_records_who_changed_what(admin: Any, admin_client: Client) -> None:
    package = factories.package("Fysio 10×", internal_rate=eur("120"))
    assert f'href="{LIST}{package.pk}/"' in admin_client.get(LIST).content.decode()
    data = package_data(name="Fysio 10×", internal_rate="125", is_active="on",
                        ledger_account=package.ledger_account_id,
                        balance_sheet_item=package.balance_sheet_item_id,
                        _fingerprint=fingerprint(admin_client, package))
    assert admin_client.post(f"{LIST}{package.pk}/", data).status_code == 302
    entry = history(package).first()
    assert entry is not None and entry.user == admin
    assert entry.changes == {"internal_rate": ["EUR 120.00", "EUR 125.00"]}


@pytest.mark.django_db
def test_english_labels_and_amounts(admin_client: Client) -> None:
    factories.package("Fysio 10×", internal_rate=eur("1200"))
    admin_client.cookies["django_language"] = "en"
    body = admin_client.get(LIST).content.decode()
    assert "+ Add package" in body and "Internal rate" in body and "Balance-sheet item" in body
    assert "€1,200.00" in body
    admin_client.cookies["django_language"] = "nl"
    body = admin_client.get(LIST).content.decode()
    assert "+ Pakket toevoegen" in body and "€ 1.200,00" in body


@pytest.mark.django_db
def test_empty_list_says_what_to_do_first(admin_client: Client) -> None:
    body = admin_client.get(LIST).content.decode()
    assert "Nog geen pakketten. Maak er een aan met + Pakket toevoegen." in body


@pytest.mark.django_db
def test_types_and_products_keep_their_link_when_deleted_package_is_refused(
    admin_client: Client,
) -> None:
    package = factories.sellable_package("Fysio 10×")
    admin_client.post(f"{LIST}{package.pk}/delete/")
    assert Product.objects.filter(package=package).exists()
    assert AppointmentType.objects.filter(package=package).exists()


@pytest.mark.django_db
def test_the_database_holds_the_name_rule_when_forms_race(admin: Any) -> None:
    # Both forms were valid; the other one committed first. The unique index refuses the
    # second, and the service turns that into the same form error.
    from django import forms as django_forms

    from packages.forms import PackageForm
    from packages.services import save_package

    form = PackageForm(data=package_data(name="Fysio 10×"))
    assert form.is_valid(), form.errors
    factories.package("fysio 10×")
    with pytest.raises(django_forms.ValidationError) as caught:
        save_package(form, by=admin)
    assert "name" in caught.value.error_dict
    assert Package.objects.count() == 1
