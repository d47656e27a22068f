"""Factories for tests; `ALL` makes one object of each model a settings URL can name."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from django.contrib.auth.models import Group, User

from core.money import eur
from core.roles import Role
from invoicing.models import Account, Product
from packages.models import Package
from scheduling.models import AppointmentType

_seq = itertools.count(1)


def user(username: str = "medewerker", role: str = Role.RECEPTIONIST, **extra: Any) -> User:
    obj, _created = User.objects.get_or_create(
        username=username, defaults={"first_name": "Mede", "last_name": "Werker"} | extra
    )
    obj.groups.set([Group.objects.get(name=role)])
    return obj


def account(code: str = "", kind: str = Account.Kind.REVENUE, **extra: Any) -> Account:
    code = code or f"{8000 + next(_seq)}"
    name = "Omzet" if kind == Account.Kind.REVENUE else "Vooruitgefactureerde omzet"
    return Account.objects.create(code=code, kind=kind, **{"name": f"{name} {code}"} | extra)


def package(name: str = "", **extra: Any) -> Package:
    fields: dict[str, Any] = {
        "name": name or f"Fysio 10× nr. {next(_seq)}",
        "internal_rate": eur("120"),
    } | extra
    fields.setdefault("ledger_account", account(kind=Account.Kind.REVENUE))
    fields.setdefault("balance_sheet_item", account(kind=Account.Kind.BALANCE_SHEET))
    return Package.objects.create(**fields)


def product(code: str = "", *, package_: Package | None = None, **extra: Any) -> Product:
    linked = package_ or package()
    fields: dict[str, Any] = {
        "code": code or f"P{next(_seq)}", "name": f"{linked.name} product",
        "price": eur("1200"), "package": linked, "credits_per_unit": 10,
    } | extra
    return Product.objects.create(**fields)


def appointment_type(name: str = "", *, package_: Package | None = None,
                     **extra: Any) -> AppointmentType:
    linked = package_ or package()
    fields: dict[str, Any] = {
        "name": name or f"Behandeling {next(_seq)}", "duration_minutes": 30,
        "package": linked, "credits": 1,
    } | extra
    return AppointmentType.objects.create(**fields)


def sellable_package(name: str = "", **extra: Any) -> Package:
    """A package linked to an active product and an active appointment type."""
    linked = package(name, **extra)
    product(package_=linked)
    appointment_type(package_=linked)
    return linked


ALL: list[Callable[[], Any]] = [user, account, package, product, appointment_type]
