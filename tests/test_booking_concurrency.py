"""Receptionists booking at the same moment, on real PostgreSQL with real concurrent
connections (threads released together by a barrier)."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest
from django.db import connections
from django.test import Client

from scheduling.models import Appointment

from .conftest import client_for, make_user
from .scheduling_factories import appointment_type, patient

ATTEMPTS = 10


def post_together(clients: list[Client], forms: list[dict[str, Any]]) -> list[tuple[int, str]]:
    """POST every form to the booking URL at the same moment; the answers in order."""
    barrier = threading.Barrier(len(clients))
    answers: dict[int, tuple[int, str]] = {}

    def attempt(n: int) -> None:
        try:
            barrier.wait(timeout=20)
            response = clients[n].post("/calendar/book/", forms[n])
            answers[n] = (response.status_code, response.content.decode())
        finally:
            connections.close_all()

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(answers) == len(clients), "a booking attempt hung"
    return [answers[n] for n in range(len(clients))]


def receptionists(count: int) -> list[Client]:
    clients = []
    for n in range(count):
        client = client_for(make_user(f"balie{n}", "receptionist"))
        client.cookies["django_language"] = "en"
        clients.append(client)
    return clients


def booking(who: int, practitioner: int, kind: int, **changes: Any) -> dict[str, Any]:
    return {"patient": who, "practitioner": practitioner, "appointment_type": kind,
            "date": "2030-03-04", "time": "10:00", "weeks": 1, "note": "",
            "idempotency_key": uuid.uuid4().hex} | changes


@pytest.mark.django_db(transaction=True)
def test_ten_simultaneous_bookings_of_one_slot_exactly_one_succeeds() -> None:
    practitioner, kind = make_user("fysio", "practitioner"), appointment_type()
    forms = [booking(patient(f"Patiënt{n}").pk, practitioner.pk, kind.pk)
             for n in range(ATTEMPTS)]
    answers = post_together(receptionists(ATTEMPTS), forms)

    assert sorted(status for status, _body in answers) == [302] + [422] * (ATTEMPTS - 1)
    assert all("already has an appointment on Monday 4 March 2030 10:00–10:30" in body
               for status, body in answers if status == 422)
    assert Appointment.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_series_submitted_twice_at_the_same_moment_is_booked_once() -> None:
    practitioner, kind = make_user("fysio", "practitioner"), appointment_type()
    form = booking(patient().pk, practitioner.pk, kind.pk, weeks=3)
    answers = post_together(receptionists(4), [form] * 4)

    assert [status for status, _body in answers] == [302] * 4  # each sees the booking
    assert Appointment.objects.count() == 3
