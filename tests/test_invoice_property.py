"""Property: for any products, quantities, discounts and VAT treatments, an issued invoice's
totals and VAT per rate add up to the cent, and its lots hold exactly its package lines'
credits and net amounts. The expected amounts are computed here, in integer cents, apart
from invoicing.vat. `make test` runs a fixed, derandomized set; `make stress` many more."""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest
from django.contrib.auth.models import User
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from invoicing import invoices
from invoicing.invoices import LineData
from packages.ledger_models import CreditBalance

from . import invoice_factories as make

STRESS = os.environ.get("FLUX_STRESS") == "1"
PROFILE = {
    "max_examples": 1500 if STRESS else 60,
    "derandomize": not STRESS,
    "deadline": None,
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
}
RATES = {"exempt": 0, "9": 9, "21": 21}


@dataclass(frozen=True)
class Spec:
    price_cents: int
    treatment: str
    credits: int | None  # None: no package
    quantity: int
    discount_bp: int  # discount in hundredths of a percent


specs = st.builds(
    Spec,
    price_cents=st.one_of(st.integers(0, 300), st.integers(0, 250_000)),
    treatment=st.sampled_from(list(RATES)),
    credits=st.one_of(st.none(), st.integers(1, 30)),
    quantity=st.integers(1, 12),
    discount_bp=st.one_of(st.just(0), st.integers(0, 10_000), st.sampled_from([1000, 10_000])),
)


def half_up(numerator: int, denominator: int) -> int:
    """Round a non-negative fraction to the nearest integer, halves up."""
    return (2 * numerator + denominator) // (2 * denominator)


def cents(money: object) -> int:
    return int(money.amount * 100)  # type: ignore[attr-defined]


@pytest.mark.django_db
@settings(**PROFILE)
@given(lines=st.lists(specs, min_size=1, max_size=12))
def test_totals_vat_and_lots_add_up_to_the_cent(lines: list[Spec], admin: User) -> None:
    with transaction.atomic():
        check_one_invoice(lines, admin)
        transaction.set_rollback(True)  # each example starts from an empty ledger


def check_one_invoice(lines: list[Spec], admin: User) -> None:
    from decimal import Decimal

    make.practice()
    patient = make.patient()
    packages = [make.package(f"Pakket {i}") for i in range(2)]
    data = []
    for i, spec in enumerate(lines):
        package = packages[i % 2] if spec.credits else None
        product = make.product(f"P{i}", f"Product {i}", Decimal(spec.price_cents) / 100,
                               vat=spec.treatment, package=package, credits=spec.credits)
        data.append(LineData(product, spec.quantity, Decimal(spec.discount_bp) / 100))
    invoice = invoices.issue_invoice(make.draft(patient, data, by=admin), by=admin)
    stored = list(invoice.lines.order_by("position"))

    # Expected, in integer cents: line gross after discount; VAT per rate on the rate's gross.
    gross = [half_up(s.price_cents * s.quantity * (10_000 - s.discount_bp), 10_000)
             for s in lines]
    assert [cents(li.gross) for li in stored] == gross
    expected_vat = 0
    for treatment, rate in RATES.items():
        members = [i for i, s in enumerate(lines) if s.treatment == treatment]
        if not members:
            continue
        rate_gross = sum(gross[i] for i in members)
        rate_vat = half_up(rate_gross * rate, 100 + rate)
        rate_net = rate_gross - rate_vat
        expected_vat += rate_vat
        nets = [cents(stored[i].net) for i in members]
        assert sum(nets) == rate_net  # the last line took the remainder
        for i, net in zip(members, nets, strict=True):
            assert 0 <= net <= gross[i]
            assert cents(stored[i].vat) == gross[i] - net
            # Each line's net is its share of the rate's net, to within a cent.
            assert abs(net * rate_gross - gross[i] * rate_net) < max(rate_gross, 1)
        (shown,) = [r for r in invoice.rate_totals() if r.treatment == treatment]
        assert (int(shown.gross * 100), int(shown.vat * 100)) == (rate_gross, rate_vat)
    assert cents(invoice.total) == sum(gross)
    assert cents(invoice.total_vat) == expected_vat
    assert cents(invoice.total_net) == sum(gross) - expected_vat

    # Lots: quantity × credits per unit, worth the line's net; per package the sums match.
    for line, spec in zip(stored, lines, strict=True):
        if spec.credits is None:
            assert line.credit_lot is None
            continue
        assert line.credit_lot.credits == spec.quantity * spec.credits
        assert line.credit_lot.value_total == line.net
    for package in packages:
        package_lines = [li for li in stored if li.package_id == package.pk]
        lots_value = sum(cents(li.credit_lot.value_total) for li in package_lines)
        assert lots_value == sum(cents(li.net) for li in package_lines)
        balance = CreditBalance.objects.filter(patient=patient, package=package).first()
        pending = balance.pending if balance else 0
        assert pending == sum(li.credits for li in package_lines)
