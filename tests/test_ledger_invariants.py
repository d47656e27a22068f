"""What the database itself guarantees about the ledger, and that the booking path's queries
can use indexes (the benchmark later runs them against a million entries)."""

from __future__ import annotations

import threading

import pytest
from django.db import IntegrityError, connection, connections, transaction
from django.db.models import ProtectedError
from django.test.utils import CaptureQueriesContext

from packages import ledger
from packages.ledger_models import BUCKETS, CreditEntry

from . import ledger_helpers as h


def execute(sql: str, params: list[object] | None = None) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


@pytest.mark.django_db
@pytest.mark.parametrize("sql", [
    "UPDATE packages_creditentry SET credits = 5",
    "UPDATE packages_creditentry SET reason = 'tidied up'",
    "UPDATE packages_creditentry SET idempotency_key = idempotency_key || '-x'",
    "DELETE FROM packages_creditentry",
    "DELETE FROM packages_creditentry WHERE kind = 'reserve'",
])
def test_entries_cannot_be_updated_or_deleted(sql: str) -> None:
    pkg, pat = h.package(), h.patient()
    h.lot(pat, pkg, 2)
    ledger.reserve(h.appointment(pat, pkg), credits=1, package=pkg, key="r", by=None)
    before = list(CreditEntry.objects.values())
    with pytest.raises(Exception, match="append-only"):
        execute(sql)
    assert list(CreditEntry.objects.values()) == before


@pytest.mark.django_db
@pytest.mark.parametrize("table", ["creditbalance", "creditlot"])
@pytest.mark.parametrize("bucket", BUCKETS)
def test_no_counter_goes_below_zero(table: str, bucket: str) -> None:
    pkg, pat = h.package(), h.patient()
    h.lot(pat, pkg, 1)
    with pytest.raises(IntegrityError, match=f"{bucket}_not_negative"):
        execute(f"UPDATE packages_{table} SET {bucket} = -1")  # noqa: S608


@pytest.mark.django_db
def test_the_ledger_refuses_to_take_more_than_a_lot_holds() -> None:
    pkg, pat = h.package(), h.patient()
    lot = h.lot(pat, pkg, 1)
    with pytest.raises(ledger.LedgerError):
        ledger.adjust(lot, -2, reason="typo", key="a", by=None)
    with pytest.raises(ledger.LedgerError):
        ledger.revoke(lot, 2, key="cn", by=None)
    # Even a caller that skipped the checks is stopped by the CHECK constraints.
    with pytest.raises(ledger.LedgerError, match="negatief"), transaction.atomic():
        ledger.post(lot, "adjust", 2, ledger.Move(available=-2), key="raw", by=None)
    assert h.fresh(lot)["available"] == 1


@pytest.mark.django_db
def test_foreign_keys_into_the_ledger_protect() -> None:
    pkg, pat = h.package(), h.patient()
    lot = h.lot(pat, pkg, 2)
    visit = h.appointment(pat, pkg)
    ledger.reserve(visit, credits=1, package=pkg, key="r", by=None)
    for obj in (lot, visit, lot.balance, pat, pkg):
        with pytest.raises(ProtectedError), transaction.atomic():
            obj.delete()
    # Below the ORM too: the database's foreign keys refuse the orphaned entries.
    for sql in ("DELETE FROM packages_creditlot", "DELETE FROM scheduling_appointment"):
        with pytest.raises(IntegrityError, match="foreign key"):
            execute(f"SET CONSTRAINTS ALL IMMEDIATE; {sql}")
    assert CreditEntry.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_a_double_submitted_booking_reserves_once() -> None:
    pkg, pat = h.package(), h.patient()
    h.lot(pat, pkg, 3)
    visit = h.appointment(pat, pkg)
    barrier, results = threading.Barrier(2), []

    def submit() -> None:
        try:
            barrier.wait()
            results.append([e.pk for e in ledger.reserve(visit, credits=1, package=pkg,
                                                          key=f"book:{visit.pk}", by=None)])
        finally:
            connections.close_all()

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 2 and results[0] == results[1]
    assert h.counters(pat, pkg) | {"available": 2, "reserved": 1} == h.counters(pat, pkg)
    assert CreditEntry.objects.filter(kind="reserve").count() == 1


@pytest.mark.django_db
def test_the_booking_paths_queries_can_all_use_indexes() -> None:
    pkg, pat = h.package(), h.patient()
    h.lot(pat, pkg, 2, expires_on=h.at(h.days_from_now(30)).date())
    lot = h.lot(pat, pkg, 4)
    first, second = h.appointment(pat, pkg), h.appointment(pat, pkg)
    with CaptureQueriesContext(connection) as captured:
        ledger.available_for(pat, pkg, first.start)
        ledger.reserve(first, credits=2, package=pkg, key="r1", by=None)
        ledger.reserve(first, credits=2, package=pkg, key="r1", by=None)  # a retry
        ledger.reserve(second, credits=1, package=pkg, key="r2", by=None)
        ledger.move_reservation(second, h.at(h.days_from_now(60)), key="m", by=None)
        ledger.settle_cancellation(first, late=True, key="c", by=None)
        ledger.use(second, forfeited=False, key="u", by=None)
        ledger.adjust(lot, 1, reason="goodwill", key="a", by=None)
        ledger.expire_lots(h.days_from_now(0))
    statements = [q["sql"] for q in captured.captured_queries
                  if q["sql"].split()[0] in {"SELECT", "UPDATE", "DELETE"}]
    assert len(statements) > 30
    scans = []
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        for sql in statements:
            cursor.execute(f"EXPLAIN {sql}")
            plan = "\n".join(row[0] for row in cursor.fetchall())
            if "Seq Scan" in plan:
                scans.append(f"{sql}\n{plan}")
    assert scans == []
