"""The demo practice that `make run` loads. Idempotent: a second load changes nothing."""

from __future__ import annotations

from django.contrib.auth.models import Group, User
from django.db import transaction

from .models import Practice
from .roles import Role

DEMO_PASSWORD = "flux-demo"  # noqa: S105 - demo only; the loader refuses in production
DEMO_USERS = [
    ("admin", "Anna", "de Beheerder", "admin@demo.flux.test", Role.ADMIN),
    ("balie", "Bram", "van de Balie", "balie@demo.flux.test", Role.RECEPTIONIST),
    ("therapeut", "Tessa", "Therapeut", "therapeut@demo.flux.test", Role.PRACTITIONER),
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
    return created
