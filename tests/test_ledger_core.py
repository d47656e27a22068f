"""The ledger's core services on real PostgreSQL: buckets move, keys dedupe, the database
refuses what the rules forbid."""

from __future__ import annotations

import datetime

import pytest
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.utils import timezone
from djmoney.money import Money

from packages import ledger
from packages.ledger_models import CreditBalance, CreditEntry
from packages.models import Package
from patients.models import Patient
from scheduling.models import Appointment, AppointmentType

pytestmark = pytest.mark.django_db


@pytest.fixture
def package() -> Package:
    return Package.objects.create(name="Fysio 10×", internal_rate=Money(60, "EUR"),
                                  validity_unit="months", validity_count=12)


@pytest.fixture
def patient() -> Patient:
    return Patient.objects.create(first_name="Piet", last_name="Jansen")


def appointment(patient: Patient, package: Package, user: User, days: int = 3) -> Appointment:
    kind, _ = AppointmentType.objects.get_or_create(name="Behandeling", package=package,
                                                    defaults={"credits": 1})
    start = timezone.now() + datetime.timedelta(days=days)
    return Appointment.objects.create(
        patient=patient, practitioner=user, type=kind, start=start,
        end=start + datetime.timedelta(minutes=30), idempotency_key=f"a{days}-{start}",
    )


def balance(patient: Patient, package: Package) -> dict[str, int]:
    return CreditBalance.objects.get(patient=patient, package=package).counters()


def test_invoice_lot_is_pending_until_activated_once(patient, package, admin) -> None:
    lot = ledger.grant_lot(patient=patient, package=package, credits=10,
                           value_total=Money("1100.92", "EUR"), source="invoice",
                           pending=True, key="line:1", by=admin)
    assert balance(patient, package)["pending"] == 10
    assert ledger.grant_lot(patient=patient, package=package, credits=10,
                            value_total=Money("1100.92", "EUR"), source="invoice",
                            pending=True, key="line:1", by=admin).pk == lot.pk
    ledger.activate_lot(lot, key="paid:1", by=admin)
    ledger.activate_lot(lot, key="paid:1", by=admin)
    ledger.activate_lot(lot, key="paid:again", by=admin)  # nothing pending: no entry
    assert balance(patient, package) == {"pending": 0, "available": 10, "reserved": 0,
                                         "used": 0, "expired": 0}
    assert CreditEntry.objects.filter(kind="activate").count() == 1
    lot.refresh_from_db()
    assert lot.expires_on == ledger.add_months(ledger.local_date(lot.activated_at), 12)
    values = ledger.credit_values(lot)
    assert sum(values) == lot.value_total.amount and len(set(values[:-1])) == 1


def test_reserve_release_use(patient, package, admin) -> None:
    ledger.grant_lot(patient=patient, package=package, credits=2, value_total=Money(120, "EUR"),
                     source="import", pending=False, key="imp", by=admin)
    first, second, third = (appointment(patient, package, admin, d) for d in (1, 2, 3))
    ledger.reserve(first, credits=1, package=package, key="r1", by=admin)
    ledger.reserve(first, credits=1, package=package, key="r1", by=admin)  # double submit
    ledger.reserve(second, credits=1, package=package, key="r2", by=admin)
    with pytest.raises(ledger.InsufficientCredits) as refused:
        ledger.reserve(third, credits=1, package=package, key="r3", by=admin)
    assert "0 beschikbaar in ‘Fysio 10×’, 1 nodig" in str(refused.value)
    ledger.release(first, key="c1", by=admin)
    ledger.use(second, forfeited=False, key="u2", by=admin)
    ledger.use(second, forfeited=False, key="u2-again", by=admin)  # nothing held any more
    assert balance(patient, package) == {"pending": 0, "available": 1, "reserved": 0,
                                         "used": 1, "expired": 0}
    assert ledger.derive_differences() == []


def test_expiry_respects_covering_and_reservations(patient, package, admin) -> None:
    lot = ledger.grant_lot(patient=patient, package=package, credits=3,
                           value_total=Money(180, "EUR"), source="grant", pending=False,
                           key="g", by=admin, reason="goodwill",
                           expires_on=timezone.localdate() + datetime.timedelta(days=5))
    late = appointment(patient, package, admin, days=10)
    with pytest.raises(ledger.InsufficientCredits):
        ledger.reserve(late, credits=1, package=package, key="late", by=admin)
    soon = appointment(patient, package, admin, days=2)
    ledger.reserve(soon, credits=1, package=package, key="soon", by=admin)
    assert ledger.expire_lots(lot.expires_on + datetime.timedelta(days=1)) == 1
    assert balance(patient, package) == {"pending": 0, "available": 0, "reserved": 1,
                                         "used": 0, "expired": 2}
    assert ledger.derive_differences() == []


def test_entries_cannot_be_updated_or_deleted_and_balances_not_negative(
        patient, package, admin) -> None:
    ledger.grant_lot(patient=patient, package=package, credits=1, value_total=Money(60, "EUR"),
                     source="import", pending=False, key="one", by=admin)
    for sql in ("UPDATE packages_creditentry SET credits = 5",
                "DELETE FROM packages_creditentry"):
        with pytest.raises(Exception, match="append-only"), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(sql)
    with pytest.raises(Exception, match="available_not_negative"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("UPDATE packages_creditbalance SET available = -1")
    assert CreditEntry.objects.count() == 1
