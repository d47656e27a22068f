"""The benchmark harness's own checks: the floor books exactly the credits there are, and
the runner fails a run whose results lack a value or count wrongly (never for speed)."""

from __future__ import annotations

import threading
from typing import Any

import psycopg
import pytest
from django.db import connection

from bench import floors, run
from tests import celery_worker


@pytest.mark.django_db(transaction=True)
def test_floor_books_the_credits_and_refuses_the_rest_under_concurrency() -> None:
    url = celery_worker.test_database_url()
    with psycopg.connect(url) as conn:
        floors.load(conn, {1: 3})
    barrier = threading.Barrier(8)
    outcomes: list[bool] = []

    def attempt(i: int) -> None:
        with psycopg.connect(url) as conn:
            barrier.wait()
            with conn.transaction(), conn.cursor() as cursor:
                outcomes.append(floors.book(cursor, 1, "2027-01-04T10:00", f"key-{i}"))

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with connection.cursor() as cursor:
        cursor.execute("SELECT available FROM floor_balance WHERE patient_id = 1")
        left = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM floor_appointment")
        booked = cursor.fetchone()[0]
        cursor.execute(floors.SCHEMA.split(";")[0])  # drop the floor's tables again
    assert sorted(outcomes) == [False] * 5 + [True] * 3
    assert (left, booked) == (0, 3)


def complete() -> dict[str, Any]:
    values: dict[str, Any] = {name: dict.fromkeys(keys, 1) for name, keys in run.REQUIRED.items()}
    values["booking"]["oversold"] = 0
    values["pipeline"] |= {"invoices": 1000, "emails_distinct": 1000}
    values["screens"] = {"calendar_week": dict.fromkeys(run.SCREEN_KEYS, 1)}
    return values


def test_runner_accepts_complete_results() -> None:
    assert run.problems(complete(), run.BENCHMARKS) == []


def test_runner_fails_a_missing_value_an_oversold_credit_and_a_duplicate_email() -> None:
    results = complete()
    del results["pdf"]["floor_ms"]
    results["booking"]["oversold"] = 2
    results["pipeline"]["emails_distinct"] = 999
    results["screens"]["calendar_week"]["queries"] = None
    found = run.problems(results, run.BENCHMARKS)
    assert found == [
        "pdf: floor_ms missing", "screens.calendar_week: queries missing",
        "booking: 2 bookings beyond the credits",
        "pipeline: 999 distinct emails for 1000 invoices",
    ]


def test_runner_fails_a_benchmark_that_wrote_nothing() -> None:
    results = complete()
    results["pdf"] = None
    assert run.problems(results, ["pdf"]) == ["pdf: no results"]
