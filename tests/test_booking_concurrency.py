"""Ten receptionists book the same practitioner's same slot at the same moment, on real
PostgreSQL with real concurrent connections: exactly one booking succeeds."""

from __future__ import annotations

import threading
import uuid

import pytest
from django.db import connections
from django.test import Client

from scheduling.models import Appointment

from .conftest import client_for, make_user
from .scheduling_factories import appointment_type, patient

ATTEMPTS = 10


@pytest.mark.django_db(transaction=True)
def test_ten_simultaneous_bookings_of_one_slot_exactly_one_succeeds() -> None:
    practitioner = make_user("fysio", "practitioner")
    kind = appointment_type()
    clients: list[Client] = []
    forms = []
    for n in range(ATTEMPTS):
        desk = make_user(f"balie{n}", "receptionist")
        client = client_for(desk)
        client.cookies["django_language"] = "en"
        clients.append(client)
        forms.append({
            "patient": patient(f"Patiënt{n}").pk, "practitioner": practitioner.pk,
            "appointment_type": kind.pk, "date": "2030-03-04", "time": "10:00",
            "weeks": 1, "note": "", "idempotency_key": uuid.uuid4().hex,
        })
    barrier = threading.Barrier(ATTEMPTS)
    answers: dict[int, tuple[int, str]] = {}

    def attempt(n: int) -> None:
        try:
            barrier.wait(timeout=20)
            response = clients[n].post("/calendar/book/", forms[n])
            answers[n] = (response.status_code, response.content.decode())
        finally:
            connections.close_all()

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(ATTEMPTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert len(answers) == ATTEMPTS
    statuses = sorted(status for status, _body in answers.values())
    assert statuses == [302] + [422] * (ATTEMPTS - 1)
    refused = [body for status, body in answers.values() if status == 422]
    assert all("already has an appointment on Monday 4 March 2030 10:00–10:30" in body
               for body in refused)
    assert Appointment.objects.count() == 1
