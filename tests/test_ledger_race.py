"""The last-credit race (issue 5, "Must show"): 20 receptionists book the patient's last 3
credits at the same moment, on real PostgreSQL with one connection per thread.

Each attempt runs in its own transaction, as the booking screen's does; the harness records
every transaction's start (`now()`) and a moment just before its end (`clock_timestamp()`),
both from the server's clock, and a watcher polls pg_stat_activity for bookings waiting on
a lock: it asserts that transactions truly overlapped and that one waited for another. The
sensitivity check runs the same harness with the lock switched off and a pause between the
read and the write, and asserts that the invariant then breaks every time."""

from __future__ import annotations

import datetime
import io
import os
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone

from packages import ledger
from packages.ledger_models import CreditEntry

from . import ledger_helpers as h

STRESS = os.environ.get("FLUX_STRESS") == "1"
REPETITIONS = range(20 if STRESS else 5)
ATTEMPTS, CREDITS = 20, 3
LOG = Path(__file__).resolve().parent.parent / "var" / "test-output" / "ledger-race.log"


@dataclass(frozen=True)
class Attempt:
    outcome: str  # "reserved", "refused" (InsufficientCredits) or "error: …"
    backend: int
    began: datetime.datetime
    ended: datetime.datetime


@dataclass(frozen=True)
class Race:
    attempts: list[Attempt]
    most_waiting: int  # the most transactions seen waiting for a lock at one moment


def run_race() -> tuple[Race, h.Patient, h.Package]:
    pkg, pat = h.package(), h.patient()
    h.lot(pat, pkg, CREDITS)
    first = timezone.now() + datetime.timedelta(days=2)
    visits = [h.appointment(pat, pkg, first + datetime.timedelta(hours=i))
              for i in range(ATTEMPTS)]
    barrier = threading.Barrier(ATTEMPTS)
    attempts: list[Attempt] = []
    crashed: list[BaseException] = []

    def book(index: int) -> None:
        try:
            connection.ensure_connection()  # connect before the barrier: start together
            barrier.wait(timeout=30)
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid(), now()")
                backend, began = cursor.fetchone()
                try:
                    ledger.reserve(visits[index], credits=1, package=pkg,
                                   key=f"book:{visits[index].pk}", by=None)
                    outcome = "reserved"
                except ledger.InsufficientCredits:
                    outcome = "refused"
                except Exception as exc:  # what the user would get instead of the refusal
                    outcome = f"error: {type(exc).__name__}: {exc}"
                cursor.execute("SELECT clock_timestamp()")
                (ended,) = cursor.fetchone()
            attempts.append(Attempt(outcome, backend, began, ended))
        except BaseException as exc:
            crashed.append(exc)
        finally:
            connection.close()

    waiting: list[int] = []
    done = threading.Event()

    def watch() -> None:
        """Poll the server for booking transactions that wait on another one's lock."""
        try:
            with connection.cursor() as cursor:
                while not done.is_set():
                    cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = "
                                   "current_database() AND wait_event_type = 'Lock'")
                    waiting.append(cursor.fetchone()[0])
        finally:
            connection.close()

    watcher = threading.Thread(target=watch)
    watcher.start()
    threads = [threading.Thread(target=book, args=(i,)) for i in range(ATTEMPTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    done.set()
    watcher.join(timeout=10)
    assert crashed == [] and len(attempts) == ATTEMPTS
    return Race(attempts, max(waiting, default=0)), pat, pkg


def overlapping_pairs(attempts: list[Attempt]) -> int:
    return sum(1 for i, a in enumerate(attempts) for b in attempts[i + 1:]
               if a.began < b.ended and b.began < a.ended)


def most_at_once(attempts: list[Attempt]) -> int:
    """The most transactions that were open at the same instant."""
    events = sorted([(a.began, 1) for a in attempts] + [(a.ended, -1) for a in attempts])
    open_now = peak = 0
    for _moment, step in events:
        open_now += step
        peak = max(peak, open_now)
    return peak


def record(name: str, race: Race, problems: list[str]) -> None:
    """What each repetition saw, for the report (var/test-output/ledger-race.log)."""
    attempts = race.attempts
    LOG.parent.mkdir(parents=True, exist_ok=True)
    outcomes = Counter(a.outcome.split(":")[0] + (":" + a.outcome.split(":")[1]
                       if a.outcome.startswith("error") else "") for a in attempts)
    span = max(a.ended for a in attempts) - min(a.began for a in attempts)
    with LOG.open("a") as log:
        log.write(f"{name}: {dict(outcomes)}; overlapping pairs {overlapping_pairs(attempts)}, "
                  f"at most {most_at_once(attempts)} open at once, at most {race.most_waiting} "
                  f"waiting for a lock, {span.total_seconds():.3f} s; "
                  f"broken: {problems or 'nothing'}\n")


def broken_rules(attempts: list[Attempt], pat: h.Patient, pkg: h.Package) -> list[str]:
    """Everything that differs from: exactly 3 succeed, the rest are refused clearly,
    the balance ends at 0 available / 3 reserved, and check_ledger is clean."""
    problems = []
    outcomes = [a.outcome for a in attempts]
    if outcomes.count("reserved") != CREDITS:
        problems.append(f"{outcomes.count('reserved')} bookings succeeded")
    problems += sorted({o for o in outcomes if o not in ("reserved", "refused")})
    balance = h.counters(pat, pkg)
    if (balance["available"], balance["reserved"]) != (0, CREDITS):
        problems.append(f"balance ended at {balance}")
    if CreditEntry.objects.filter(kind="reserve").count() != CREDITS:
        problems.append("reservations written: "
                        f"{CreditEntry.objects.filter(kind='reserve').count()}")
    try:
        call_command("check_ledger", stdout=io.StringIO())
    except Exception as exc:
        problems.append(f"check_ledger: {exc}")
    return problems


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("repetition", REPETITIONS)
def test_the_last_credit_race(repetition: int) -> None:
    race, pat, pkg = run_race()
    problems = broken_rules(race.attempts, pat, pkg)
    record(f"locked #{repetition}", race, problems)
    assert problems == []
    assert len({a.backend for a in race.attempts}) == ATTEMPTS  # one connection per thread
    assert overlapping_pairs(race.attempts) >= 1, "no two transactions overlapped: no race"
    assert race.most_waiting >= 1, "no booking ever waited for another's lock"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("repetition", REPETITIONS)
def test_without_the_lock_the_race_test_fails(repetition: int, monkeypatch) -> None:
    monkeypatch.setattr(ledger, "_lock_balances", False)
    monkeypatch.setattr(ledger, "_between_read_and_write", lambda: time.sleep(0.05))
    race, pat, pkg = run_race()
    problems = broken_rules(race.attempts, pat, pkg)
    record(f"unlocked #{repetition}", race, problems)
    assert problems != [], "the race test did not catch the race"
    assert overlapping_pairs(race.attempts) >= 1
