"""`manage.py check_ledger`, the nightly reconciliation task and the administrators' notice."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import quote

import pytest
from celery.schedules import crontab
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection, transaction

from packages import ledger, tasks
from packages.ledger_models import CreditLot, LedgerCheck

from . import ledger_helpers as h

ROOT = Path(__file__).resolve().parent.parent
TRIGGER = "packages_entry_no_update_delete"


def run_check() -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command("check_ledger", stdout=out)
    except CommandError as exc:
        return exc.returncode, out.getvalue()
    return 0, out.getvalue()


def corrupt_entry_of(lot: CreditLot) -> None:
    """Change one entry behind the ledger's back, with the append-only trigger off."""
    with connection.cursor() as cursor:
        # Django's foreign keys are deferred; ALTER TABLE wants no pending checks.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(f"ALTER TABLE packages_creditentry DISABLE TRIGGER {TRIGGER}")
        cursor.execute("UPDATE packages_creditentry SET d_available = d_available + 1 "
                       "WHERE id = (SELECT min(id) FROM packages_creditentry WHERE lot_id = %s)",
                       [lot.pk])
        cursor.execute(f"ALTER TABLE packages_creditentry ENABLE TRIGGER {TRIGGER}")
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def corrupt_counter_of(lot: CreditLot) -> None:
    with connection.cursor() as cursor:
        cursor.execute("UPDATE packages_creditlot SET available = available + 1 WHERE id = %s",
                       [lot.pk])


def ledger_with_history() -> tuple[CreditLot, CreditLot]:
    pkg, pat = h.package(), h.patient()
    first, second = h.lot(pat, pkg, 3), h.lot(pat, pkg, 2)
    visit = h.appointment(pat, pkg)
    ledger.reserve(visit, credits=1, package=pkg, key="r", by=None)
    ledger.use(visit, forfeited=False, key="u", by=None)
    return first, second


@pytest.mark.django_db
def test_a_consistent_ledger_says_so_and_exits_0() -> None:
    ledger_with_history()
    assert run_check() == (0, "ledger consistent: 2 lots, 4 entries\n")


@pytest.mark.django_db
@pytest.mark.parametrize("corrupt", [corrupt_entry_of, corrupt_counter_of])
def test_a_corrupted_lot_is_named_and_the_check_exits_1(corrupt) -> None:
    first, second = ledger_with_history()
    corrupt(second)
    code, out = run_check()
    assert code == 1
    assert f"lot {second.pk} (Piet Jansen · Fysio 10×): available is" in out
    assert f"lot {first.pk} " not in out
    if corrupt is corrupt_entry_of:  # the balance is off too; the trigger is on again
        assert "balance " in out
        assert f"on lot {second.pk}: its deltas do not match a grant of 2 credits" in out
        with pytest.raises(Exception, match="append-only"), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("UPDATE packages_creditentry SET reason = 'x'")


@pytest.mark.django_db(transaction=True)
def test_the_command_line_exit_status() -> None:
    _first, second = ledger_with_history()
    db = connection.settings_dict
    env = os.environ | {"DATABASE_URL": "postgres://{}:{}@{}:{}/{}".format(
        quote(db["USER"] or ""), quote(db["PASSWORD"] or ""), quote(db["HOST"] or "", safe=""),
        db["PORT"] or 5432, db["NAME"])}
    corrupt_counter_of(second)  # committed: the command's own connection sees it
    broken = subprocess.run([sys.executable, "manage.py", "check_ledger"], cwd=ROOT, env=env,
                            capture_output=True, text=True)
    assert broken.returncode == 1
    assert f"lot {second.pk} (Piet Jansen · Fysio 10×): available is 3, entries say 2" in (
        broken.stdout)
    assert "ledger inconsistent: 1 difference(s)" in broken.stderr


@pytest.mark.django_db
def test_nightly_check_shows_administrators_a_notice_until_a_clean_run(
        admin_client, receptionist_client) -> None:
    _first, second = ledger_with_history()
    assert tasks.check_ledger_nightly() is True
    assert b"ledger-notice" not in admin_client.get("/", follow=True).content

    corrupt_counter_of(second)
    assert tasks.check_ledger_nightly() is False
    check = ledger.latest_check()
    assert check is not None and not check.ok and len(check.differences) == 1
    page = admin_client.get("/", follow=True).content.decode()
    assert 'class="message error ledger-notice"' in page
    assert f"lot {second.pk} (Piet Jansen · Fysio 10×)" in page
    assert "ledger-notice" not in receptionist_client.get("/", follow=True).content.decode()

    corrupt_counter_of(second)  # still wrong: the notice stays
    tasks.check_ledger_nightly()
    assert "ledger-notice" in admin_client.get("/", follow=True).content.decode()
    with connection.cursor() as cursor:  # repaired: the next run clears it
        cursor.execute("UPDATE packages_creditlot SET available = available - 2 WHERE id = %s",
                       [second.pk])
    assert tasks.check_ledger_nightly() is True
    assert "ledger-notice" not in admin_client.get("/", follow=True).content.decode()
    assert LedgerCheck.objects.count() == 4


def test_beat_runs_the_check_at_a_quarter_past_three_in_amsterdam() -> None:
    from flux.celery import app

    schedule = settings.CELERY_BEAT_SCHEDULE["check-ledger"]
    assert schedule["task"] == tasks.check_ledger_nightly.name
    assert schedule["schedule"] == crontab(hour=3, minute=15)
    assert str(app.timezone) == "Europe/Amsterdam"
    expire = settings.CELERY_BEAT_SCHEDULE["expire-credit-lots"]
    assert expire["task"] == tasks.expire_lots_nightly.name
    assert max(expire["schedule"].hour) < min(schedule["schedule"].hour)


@pytest.mark.django_db(transaction=True)
def test_the_check_sees_no_difference_while_bookings_go_on() -> None:
    """The nightly check runs while the practice works: it compares counters and entries
    of one moment, never half of a booking."""
    pkg, pat = h.package(), h.patient()
    h.lot(pat, pkg, 2)
    visit = h.appointment(pat, pkg)
    done, reports = threading.Event(), []

    def receptionist() -> None:
        try:
            for i in range(60):
                ledger.reserve(visit, credits=1, package=pkg, key=f"r{i}", by=None)
                ledger.release(visit, key=f"c{i}", by=None)
        finally:
            done.set()
            connection.close()

    worker = threading.Thread(target=receptionist)
    worker.start()
    while not done.is_set():
        reports.append(ledger.check().differences)
    worker.join()
    assert len(reports) > 3 and all(r == [] for r in reports)
    assert ledger.check().entries == 121
