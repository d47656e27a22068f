"""Factories for tests; `ALL` makes one object of each model a settings URL can name."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

from django.contrib.auth.models import Group, User

from core.roles import Role


def user(username: str = "medewerker", role: str = Role.RECEPTIONIST, **extra: Any) -> User:
    obj, _created = User.objects.get_or_create(
        username=username, defaults={"first_name": "Mede", "last_name": "Werker"} | extra
    )
    obj.groups.set([Group.objects.get(name=role)])
    return obj


def email_template() -> Any:
    from communication.models import EmailTemplate, Event
    from communication.services import ensure_default_templates

    ensure_default_templates()
    return EmailTemplate.objects.get(event=Event.PRODUCT_INVOICE, name="")


def outgoing_email(key: str = "product_invoice:1", **patient: Any) -> Any:
    """An invoice email in the outbox, queued through the service."""
    from djmoney.money import Money

    from communication.models import Event
    from communication.services import queue_email
    from patients.models import Patient

    person = Patient.objects.create(
        **({"first_name": "Sanne", "last_name": "de Vries", "email": "sanne@example.org"}
           | patient)
    )
    return queue_email(
        event=Event.PRODUCT_INVOICE, to=person.email, language=person.language,
        patient=person, idempotency_key=key,
        context={"invoice_number": "2026-00001", "invoice_date": datetime.date(2026, 2, 2),
                 "invoice_total": Money("1200.00", "EUR"),
                 "due_date": datetime.date(2026, 2, 16), "iban": "NL91ABNA0417164300",
                 "payment_reference": "2026-00001", "package_name": "Fysio 10×",
                 "credits": 10},
    )


ALL: list[Callable[[], Any]] = [user, email_template, outgoing_email]
