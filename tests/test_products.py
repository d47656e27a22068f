"""Settings → Invoices → Products: the generic screen tests, price per credit (in the list
and live in the form, Dutch and English), credits with and only with a package, and a package
archived while the form is open."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from core import services
from core.money import eur
from invoicing import services as invoicing_services
from invoicing.forms import ProductForm
from invoicing.models import Product
from invoicing.views import ProductCrud

from . import factories
from .crud_harness import CrudHarness

LIST = "/settings/invoices/products/"


def product_data(**changes: Any) -> dict[str, Any]:
    data = {"code": "FYS10", "name": "Fysio 10×", "price": "1200", "vat_treatment": "exempt",
            "revenue_account": "", "package": "", "credits_per_unit": "", "is_active": "on"}
    return data | changes


class TestProductScreen(CrudHarness):
    crud = ProductCrud()
    list_text = "DIE5"
    search_text = "die"

    def make_object(self) -> Product:
        return factories.product("DIE5", name="Dieet 5×")

    def valid_data(self) -> dict[str, Any]:
        return product_data(package=factories.package("Fysio").pk, credits_per_unit="10")

    def edit_data(self, obj: Any) -> dict[str, Any]:
        return product_data(code=obj.code, name=obj.name, price="1100",
                            package=obj.package_id, credits_per_unit="10")


@pytest.mark.django_db
def test_list_shows_price_per_credit_the_dutch_and_the_english_way(admin_client: Client) -> None:
    factories.product("FYS10", price=eur("1200"), credits_per_unit=10)
    body = admin_client.get(LIST).content.decode()
    assert "€ 1.200,00" in body and "€ 120,00" in body
    assert "Prijs per credit" in body and "Vrijgesteld (medische zorg)" in body
    admin_client.cookies["django_language"] = "en"
    body = admin_client.get(LIST).content.decode()
    assert "€1,200.00" in body and "€120.00" in body
    assert "Price per credit" in body and "Exempt (medical care)" in body


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "price", "credits", "hint"),
    [
        ("nl", "1200", "10", "€ 120,00 per credit"),
        ("nl", "1.200,00", "10", "€ 120,00 per credit"),
        ("nl", "12000", "10", "€ 1.200,00 per credit"),
        ("nl", "100", "3", "€ 33,33 per credit"),  # rounded half up to the cent
        ("en", "1,200.00", "10", "€120.00 per credit"),
        ("en", "12000", "10", "€1,200.00 per credit"),
        ("nl", "1200", "", ""),
        ("nl", "1200", "0", ""),
        ("nl", "twaalfhonderd", "10", ""),
    ],
)
def test_price_per_credit_hint_follows_the_input(
    admin_client: Client, language: str, price: str, credits: str, hint: str
) -> None:
    admin_client.cookies["django_language"] = language
    response = admin_client.get(f"{LIST}hints/", {"price": price, "credits_per_unit": credits},
                                headers={"HX-Request": "true"})
    body = response.content.decode()
    assert response.status_code == 200
    assert 'id="live-credits_per_unit"' in body and 'hx-swap-oob="true"' in body
    assert f">{hint}</output>" in body
    assert "<html" not in body


@pytest.mark.django_db
def test_form_wires_the_live_hint_and_shows_it_when_editing(admin_client: Client) -> None:
    product = factories.product("FYS10", price=eur("1200"), credits_per_unit=10)
    body = admin_client.get(f"{LIST}{product.pk}/").content.decode()
    assert f'hx-get="{LIST}hints/"' in body
    assert ">€ 120,00 per credit</output>" in body
    assert 'value="1200,00"' in body  # the amount ready to edit, Dutch style


@pytest.mark.django_db
def test_credits_are_required_with_a_package(admin_client: Client) -> None:
    package = factories.package("Fysio 10×")
    response = admin_client.post(f"{LIST}add/", product_data(package=package.pk))
    assert response.status_code == 422
    assert "heeft een aantal credits nodig" in " ".join(
        response.context["form"].errors["credits_per_unit"])
    assert not Product.objects.exists()


@pytest.mark.django_db
def test_credits_are_refused_without_a_package(admin_client: Client) -> None:
    response = admin_client.post(f"{LIST}add/", product_data(credits_per_unit="10"))
    assert response.status_code == 422
    assert "Alleen een product met een pakket geeft credits" in " ".join(
        response.context["form"].errors["credits_per_unit"])
    assert not Product.objects.exists()


@pytest.mark.django_db
def test_product_without_package_may_have_a_revenue_account(admin_client: Client) -> None:
    account = factories.account("8020", name="Omzet fitness")
    data = product_data(code="FIT", name="Fitness", price="45", vat_treatment="21",
                        revenue_account=account.pk)
    assert admin_client.post(f"{LIST}add/", data).status_code == 302
    product = Product.objects.get(code="FIT")
    assert product.revenue_account == account and product.price_per_credit is None


@pytest.mark.django_db
def test_codes_are_unique(admin_client: Client) -> None:
    factories.product("FYS10")
    data = product_data(code="FYS10", package=factories.package("Ander").pk,
                        credits_per_unit="5")
    response = admin_client.post(f"{LIST}add/", data)
    assert response.status_code == 422
    assert "code" in response.context["form"].errors
    assert Product.objects.count() == 1


@pytest.mark.django_db
def test_package_archived_between_opening_and_submitting_is_refused(
    admin: Any, admin_client: Client,
) -> None:
    package = factories.package("Fysio 10×")
    factories.appointment_type(package_=package)  # in use, so deleting archives it
    form = admin_client.get(f"{LIST}add/").context["form"]
    assert package in form.fields["package"].queryset  # offered when the form opened
    services.delete_or_archive(package, by=admin)  # another administrator archives it
    response = admin_client.post(f"{LIST}add/", product_data(package=package.pk,
                                                            credits_per_unit="10"))
    assert response.status_code == 422
    assert "‘Fysio 10×’ is gearchiveerd" in response.content.decode()
    assert not Product.objects.exists()


@pytest.mark.django_db
def test_package_archived_after_validation_is_refused_by_the_service(admin: Any) -> None:
    # The form was valid; the package is archived before the save's transaction locks it.
    package = factories.package("Fysio 10×")
    factories.appointment_type(package_=package)
    form = ProductForm(data=product_data(package=package.pk, credits_per_unit="10"))
    assert form.is_valid(), form.errors
    services.delete_or_archive(package, by=admin)
    with pytest.raises(Exception, match="gearchiveerd|archived") as caught:
        invoicing_services.save_product(form, by=admin)
    assert "package" in caught.value.error_dict  # type: ignore[attr-defined]
    assert not Product.objects.exists()


@pytest.mark.django_db
def test_deleted_package_between_opening_and_submitting_is_refused(admin_client: Client) -> None:
    package = factories.package("Fysio 10×")
    pk = package.pk
    package.delete()
    response = admin_client.post(f"{LIST}add/", product_data(package=pk, credits_per_unit="10"))
    assert response.status_code == 422
    assert "Die keuze bestaat niet meer" in response.content.decode()
