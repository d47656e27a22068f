"""Settings → Invoices → Chart of accounts: the generic screen tests, kinds, and accounts in
use being archived rather than deleted."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from invoicing.models import Account
from invoicing.views import AccountCrud

from . import factories
from .crud_harness import CrudHarness

LIST = "/settings/invoices/accounts/"


class TestAccountScreen(CrudHarness):
    crud = AccountCrud()
    list_text = "Omzet fysiotherapie"
    search_text = "8010"

    def make_object(self) -> Account:
        return factories.account("8010", name="Omzet fysiotherapie")

    def valid_data(self) -> dict[str, Any]:
        return {"code": "1920", "name": "Vooruitgefactureerde omzet", "kind": "balance_sheet",
                "is_active": "on"}

    def edit_data(self, obj: Any) -> dict[str, Any]:
        return {"code": obj.code, "name": "Omzet fysio particulier", "kind": obj.kind,
                "is_active": "on"}


@pytest.mark.django_db
def test_list_shows_code_name_and_kind(admin_client: Client) -> None:
    factories.account("8010", name="Omzet fysiotherapie")
    factories.account("1920", kind=Account.Kind.BALANCE_SHEET, name="Vooruitgefactureerd")
    body = admin_client.get(LIST).content.decode()
    assert "Rekeningschema" in body and "+ Rekening toevoegen" in body
    assert "Omzet</td>" in body and "Balans</td>" in body
    assert body.index("1920") < body.index("8010")  # in code order


@pytest.mark.django_db
def test_account_in_use_is_archived_and_no_longer_offered(admin_client: Client) -> None:
    package = factories.package("Fysio 10×")
    account = package.ledger_account
    response = admin_client.post(f"{LIST}{account.pk}/delete/", follow=True)
    account.refresh_from_db()
    assert not account.is_active
    assert "wordt gebruikt door 1 pakket" in response.content.decode()
    new_form = admin_client.get("/settings/invoices/packages/add/").context["form"]
    assert account not in new_form.fields["ledger_account"].queryset
    package_form = admin_client.get(f"/settings/invoices/packages/{package.pk}/").context["form"]
    assert account in package_form.fields["ledger_account"].queryset  # kept where linked


@pytest.mark.django_db
def test_unused_account_is_deleted(admin_client: Client) -> None:
    account = factories.account("8099")
    admin_client.post(f"{LIST}{account.pk}/delete/")
    assert not Account.objects.filter(pk=account.pk).exists()


@pytest.mark.django_db
def test_kind_cannot_change_while_in_use(admin_client: Client) -> None:
    package = factories.package("Fysio 10×")
    account = package.ledger_account
    url = f"{LIST}{account.pk}/"
    seen = admin_client.get(url).context["form"].initial["_fingerprint"]
    data = {"code": account.code, "name": account.name, "kind": "balance_sheet",
            "is_active": "on", "_fingerprint": seen}
    response = admin_client.post(url, data)
    assert response.status_code == 422
    assert "De soort kan niet veranderen zolang 1 pakket" in " ".join(
        response.context["form"].errors["kind"])
    account.refresh_from_db()
    assert account.kind == Account.Kind.REVENUE


@pytest.mark.django_db
def test_codes_are_unique(admin_client: Client) -> None:
    factories.account("8010")
    data = {"code": "8010", "name": "Dubbel", "kind": "revenue", "is_active": "on"}
    response = admin_client.post(f"{LIST}add/", data)
    assert response.status_code == 422
    assert "code" in response.context["form"].errors
