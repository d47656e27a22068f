"""Gapless invoice numbers under real concurrency: 20 threads, each with its own database
connection, issue 20 invoices each; a known set of those transactions takes a number and
then rolls back on purpose. The committed invoices must be numbered exactly 1..400 − k."""

from __future__ import annotations

import threading

import pytest
from django.contrib.auth.models import User
from django.db import connection, transaction

from invoicing import invoices
from invoicing.models import Invoice, InvoiceLine, Product
from packages.ledger_models import CreditLot
from patients.models import Patient

from . import invoice_factories as make

WORKERS, EACH = 20, 20


class RollBack(Exception):
    pass


def bulk_drafts(product: Product) -> list[list[Invoice]]:
    """400 one-line drafts, one patient per worker (setup only: issuing reprices them)."""
    patients = Patient.objects.bulk_create(
        [Patient(first_name="Werker", last_name=str(w)) for w in range(WORKERS)])
    drafts = Invoice.objects.bulk_create(
        [Invoice(patient=patients[w]) for w in range(WORKERS) for _ in range(EACH)])
    InvoiceLine.objects.bulk_create(
        [InvoiceLine(invoice=d, position=1, product=product, quantity=1, vat_rate=0)
         for d in drafts])
    return [drafts[w * EACH:(w + 1) * EACH] for w in range(WORKERS)]


def rolled_back(worker: int, index: int) -> bool:
    return (worker * 7 + index * 3) % 13 == 0


@pytest.mark.django_db(transaction=True)
def test_twenty_workers_issue_gapless_numbers_while_some_roll_back(admin: User,
                                                                  quiet_broker: str) -> None:
    make.practice()
    package = make.package()
    product = make.product("FYS5", "Fysio 5×", "600.00", package=package, credits=5)
    drafts = bulk_drafts(product)
    k = sum(rolled_back(w, i) for w in range(WORKERS) for i in range(EACH))
    assert 0 < k < 60
    taken: list[int] = []
    errors: list[BaseException] = []
    start = threading.Barrier(WORKERS)

    def work(w: int) -> None:
        try:
            start.wait()
            for i, draft in enumerate(drafts[w]):
                try:
                    with transaction.atomic():
                        issued = invoices.issue_invoice(draft, by=admin)
                        taken.append(issued.sequence)
                        if rolled_back(w, i):
                            raise RollBack  # after the number was taken
                except RollBack:
                    pass
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(w,)) for w in range(WORKERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert len(taken) == WORKERS * EACH  # every transaction took a number…
    numbers = sorted(n or 0 for n in Invoice.objects.exclude(status="draft").values_list(
        "sequence", flat=True))
    assert numbers == list(range(1, WORKERS * EACH - k + 1))  # …the committed ones, no gap
    assert len(set(Invoice.objects.exclude(status="draft").values_list("number", flat=True))) \
        == WORKERS * EACH - k
    assert Invoice.objects.filter(status="draft").count() == k  # rolled back: still drafts
    assert CreditLot.objects.count() == WORKERS * EACH - k  # and their lots rolled back too
    # Dates rise with the numbers.
    dates = [d.isoformat() if d else "" for d in Invoice.objects.exclude(status="draft")
             .order_by("sequence").values_list("issued_at", flat=True)]
    assert dates == sorted(dates)
