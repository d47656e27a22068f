"""The demo holds the article's example: loaded once, a second load changes nothing."""

from __future__ import annotations

import pytest
from django.test import Client

from core.demo import load_demo
from core.money import eur
from invoicing.models import Account, Product
from packages.models import Package
from scheduling.models import AppointmentType


def settings_state() -> dict[str, list[object]]:
    return {
        model.__name__: list(model._default_manager.order_by("pk").values())
        for model in (Account, Package, Product, AppointmentType)
    }


@pytest.mark.django_db
def test_demo_settings_load_once() -> None:
    first_created = load_demo()
    assert "package Fysio 10×" in first_created and "product FYS10" in first_created
    first = settings_state()
    assert load_demo() == []
    assert settings_state() == first


@pytest.mark.django_db
def test_demo_package_is_sellable_at_120_per_credit(admin_client: Client) -> None:
    load_demo()
    package = Package.objects.get(name="Fysio 10×")
    assert package.internal_rate == eur("60")
    assert str(package.ledger_account) == "8010 Omzet fysiotherapie"
    assert str(package.balance_sheet_item) == "1920 Vooruitgefactureerde omzet"
    product = Product.objects.get(code="FYS10")
    assert product.price_per_credit == eur("120")
    assert AppointmentType.objects.get(name="Behandeling fysiotherapie").credits == 1
    assert AppointmentType.objects.get(name="Intake").package is None
    body = admin_client.get("/settings/invoices/packages/").content.decode()
    assert "Verkoopbaar" in body and "Niet verkoopbaar" not in body
