"""The demo practice that `make run` loads. Idempotent: a second load changes nothing."""

from __future__ import annotations

import datetime
from typing import Any

from django.contrib.auth.models import Group, User
from django.db import transaction
from django.utils import timezone

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
DEMO_PATIENTS = [
    ("Jan", "Jansen", datetime.date(1980, 3, 12), "jan.jansen@example.nl", "06 1234 5678", "nl"),
    ("Fatima", "El Amrani", datetime.date(1992, 7, 1), "fatima@example.nl", "06 2345 6789", "nl"),
    ("Sanne", "de Vries", datetime.date(1975, 11, 23), "sanne.devries@example.nl", "", "nl"),
    ("Pieter", "Bakker", datetime.date(1958, 1, 5), "", "030 765 43 21", "nl"),
    ("Emma", "Visser", datetime.date(2001, 9, 30), "emma.visser@example.com", "", "en"),
    ("Daan", "Smit", datetime.date(1988, 4, 17), "daan.smit@example.nl", "06 9876 5432", "nl"),
]
# Appointment types that book without credits (the credit ledger comes later).
DEMO_VISIT_TYPES = [
    ("Intake", {"duration_minutes": 45, "price": eur("65.00"), "colour": "#b54708"}),
    ("Losse behandeling", {"duration_minutes": 30, "price": eur("55.00"), "colour": "#1f6f8b"}),
]
# (weekday, time, type, patient index): a week of the demo practitioner's calendar.
DEMO_WEEK = [
    (0, "09:00", 0, 0), (0, "10:30", 1, 1), (0, "14:00", 1, 2),
    (1, "08:30", 1, 3), (1, "11:00", 0, 4), (2, "09:30", 1, 0),
    (2, "13:00", 1, 5), (3, "10:00", 1, 1), (3, "15:30", 1, 2),
    (4, "09:00", 1, 3), (4, "11:30", 1, 4), (4, "16:00", 1, 0),
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
    created += load_calendar_demo()
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
        DEMO_VISIT_TYPES[0],
    ]
    for name, fields in types:
        if not AppointmentType.objects.filter(name=name).exists():
            AppointmentType.objects.create(name=name, **fields)
            created.append(f"type {name}")
    return created


def load_calendar_demo() -> list[str]:
    """Patients, working hours and a week of appointments (of types without a package) for
    the demo practitioner, in the week the demo is first loaded."""
    from patients.models import Patient
    from scheduling.models import Appointment, WorkingHours
    from scheduling.services import book_appointment

    created: list[str] = []
    patients = []
    for first, last, born, email, phone, language in DEMO_PATIENTS:
        patient, made = Patient.objects.get_or_create(
            first_name=first, last_name=last, date_of_birth=born,
            defaults={"email": email, "phone": phone, "language": language},
        )
        patients.append(patient)
        if made:
            created.append(f"patient {patient}")
    types = []
    for name, fields in DEMO_VISIT_TYPES:
        demo_type = AppointmentType.objects.filter(name=name).order_by("pk").first()
        if demo_type is None:
            demo_type = AppointmentType.objects.create(name=name, **fields)
            created.append(f"type {name}")
        types.append(demo_type)
    therapist = User.objects.get(username="therapeut")
    if not WorkingHours.objects.filter(practitioner=therapist).exists():
        for day in range(5):
            WorkingHours.objects.create(practitioner=therapist, weekday=day,
                                        start=datetime.time(8, 30), end=datetime.time(17, 0))
        created.append("working hours")
    desk = User.objects.get(username="balie")
    today = timezone.localdate()
    monday = today - datetime.timedelta(days=today.weekday())
    booked = 0
    for n, (day, at, type_index, who) in enumerate(DEMO_WEEK):
        key = f"demo-appointment-{n}"
        if Appointment.objects.filter(idempotency_key=key).exists():
            continue
        start = timezone.make_aware(datetime.datetime.combine(
            monday + datetime.timedelta(days=day), datetime.time.fromisoformat(at)))
        book_appointment(patient=patients[who], practitioner=therapist, start=start,
                         appointment_type=types[type_index], idempotency_key=key, by=desk)
        booked += 1
    if booked:
        created.append(f"{booked} appointments")
    created += load_credits_demo(patients[1])
    return created


def load_credits_demo(patient: Any) -> list[str]:
    """Credits in ‘Fysio 10×’ imported for one patient, so booking with credits can be tried."""
    from packages import ledger

    package = Package.objects.filter(name="Fysio 10×", is_active=True).order_by("pk").first()
    key = "demo-import-fysio-10"
    if package is None or ledger.existing(key) is not None:
        return []
    ledger.grant_lot(patient=patient, package=package, credits=5,
                     value_total=package.internal_rate * 5,  # type: ignore[arg-type]
                     source="import", pending=False, key=key, by=None,
                     reason="Demo: overgenomen uit het vorige systeem")
    return [f"5 credits in {package.name} for {patient}"]
