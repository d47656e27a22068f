"""The demo practice that `make run` loads. Idempotent: a second load changes nothing."""

from __future__ import annotations

from django.contrib.auth.models import Group, User
from django.db import transaction

from invoicing.models import Account, Product, VatTreatment
from packages.models import Package
from scheduling.models import AppointmentType

from .models import Practice
from .money import eur
from .roles import Role

DEMO_PASSWORD = "flux-demo"  # noqa: S105 - demo only; the loader refuses in production
DEMO_USERS = [
    ("admin", "Anna", "de Beheerder", "admin@demo.flux.test", Role.ADMIN),
    ("balie", "Bram", "van de Balie", "balie@demo.flux.test", Role.RECEPTIONIST),
    ("therapeut", "Tessa", "Therapeut", "therapeut@demo.flux.test", Role.PRACTITIONER),
]
DEMO_ACCOUNTS = [
    ("8010", "Omzet fysiotherapie", Account.Kind.REVENUE),
    ("1920", "Vooruitgefactureerde omzet", Account.Kind.BALANCE_SHEET),
]


@transaction.atomic
def load_demo() -> list[str]:
    """Create what is missing; return what was created."""
    created: list[str] = []
    practice = Practice.get()
    if not practice.street:
        practice.name = "Fysiotherapie De Linde"
        practice.street = "Lindelaan 12"
        practice.postal_code = "3511 AB"
        practice.city = "Utrecht"
        practice.email = "info@delinde.example"
        practice.phone = "030 123 45 67"
        practice.kvk_number = "12345678"
        practice.iban = "NL91ABNA0417164300"
        practice.save()
        created.append("practice")
    for username, first, last, email, role in DEMO_USERS:
        user, made = User.objects.get_or_create(
            username=username, defaults={"first_name": first, "last_name": last, "email": email}
        )
        if made:
            user.set_password(DEMO_PASSWORD)
            user.save()
            user.groups.set([Group.objects.get(name=role)])
            created.append(username)
    created += load_demo_settings()
    return created


def load_demo_settings() -> list[str]:
    """The article's example: chart of accounts, package, product and standard appointments."""
    created: list[str] = []
    accounts = {}
    for code, name, kind in DEMO_ACCOUNTS:
        accounts[code], made = Account.objects.get_or_create(
            code=code, defaults={"name": name, "kind": kind}
        )
        if made:
            created.append(f"account {code}")
    # Names need not be unique (archived packages, types): look up, create when missing.
    package = Package.objects.filter(name="Fysio 10×").order_by("-is_active", "pk").first()
    if package is None:
        package = Package.objects.create(
            name="Fysio 10×", internal_rate=eur("60.00"),  # type: ignore[misc]
            ledger_account=accounts["8010"], balance_sheet_item=accounts["1920"],
        )
        created.append("package Fysio 10×")
    if not Product.objects.filter(code="FYS10").exists():
        Product.objects.create(
            code="FYS10", name="Fysio 10×", price=eur("1200.00"),  # type: ignore[misc]
            package=package, credits_per_unit=10, vat_treatment=VatTreatment.EXEMPT,
        )
        created.append("product FYS10")
    types = [
        ("Behandeling fysiotherapie", {"duration_minutes": 30, "package": package, "credits": 1,
                                       "colour": "#1f6f8b"}),
        ("Intake", {"duration_minutes": 45, "price": eur("65.00"), "colour": "#b54708"}),
    ]
    for name, fields in types:
        if not AppointmentType.objects.filter(name=name).exists():
            AppointmentType.objects.create(name=name, **fields)
            created.append(f"type {name}")
    return created
