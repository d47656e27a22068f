"""VAT and rounding of invoices (DOMAIN.md rule 6): the one place that computes them.

Prices include VAT. Per rate, the VAT is taken from the gross total at that rate
(ROUND_HALF_UP to the cent, through core.money); the rate's net is the gross minus that VAT.
Each line's net is its share of the rate's net: the running total of the shares is rounded,
so every line gets its share to within a cent, never below zero or above its gross, and the
last line takes the remainder. A line's VAT is its gross minus its net.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext_lazy as _

from core.money import to_cents

from .models import VAT_RATES, VatTreatment

ZERO = Decimal("0.00")
HUNDRED = Decimal(100)

# Printed on every invoice with an exempt line (VAT Directive art. 226(11) asks for it).
EXEMPTION_TEXT = _(
    "Exempt from VAT under article 11(1)(g) of the Dutch VAT Act 1968 "
    "(Wet op de omzetbelasting 1968): medical care."
)

# Order in which the rates appear on an invoice.
RATE_ORDER = [VatTreatment.EXEMPT, VatTreatment.LOW, VatTreatment.HIGH]


@dataclass(frozen=True)
class LineInput:
    key: Hashable
    treatment: str
    unit_price: Decimal  # VAT included
    quantity: int
    discount_percent: Decimal = ZERO


@dataclass(frozen=True)
class LineAmounts:
    key: Hashable
    treatment: str
    rate: Decimal
    gross: Decimal
    net: Decimal
    vat: Decimal


@dataclass(frozen=True)
class RateTotal:
    treatment: str
    rate: Decimal
    gross: Decimal
    net: Decimal
    vat: Decimal

    @property
    def exempt(self) -> bool:
        return self.treatment == VatTreatment.EXEMPT


@dataclass(frozen=True)
class Totals:
    lines: list[LineAmounts]  # in the order given
    rates: list[RateTotal]  # only rates that occur, in RATE_ORDER
    gross: Decimal
    net: Decimal
    vat: Decimal

    @property
    def has_exempt(self) -> bool:
        return any(r.exempt for r in self.rates)

    @property
    def has_taxed(self) -> bool:
        return any(not r.exempt for r in self.rates)


def short_label(treatment: str) -> str:
    """How a line shows its VAT: "vrijgesteld", "9 %", "21 %"."""
    if treatment == VatTreatment.EXEMPT:
        return str(_("exempt"))
    return f"{rate_of(treatment).normalize():f} %"


def rate_of(treatment: str) -> Decimal:
    return VAT_RATES[VatTreatment(treatment)]


def line_gross(unit_price: Decimal, quantity: int, discount_percent: Decimal = ZERO) -> Decimal:
    """What the line costs, VAT included, after its discount (a percentage of the line)."""
    return to_cents(unit_price * quantity * (HUNDRED - discount_percent) / HUNDRED)


def vat_in(gross: Decimal, rate: Decimal) -> Decimal:
    """The VAT contained in a VAT-inclusive amount."""
    return to_cents(gross * rate / (HUNDRED + rate))


def compute(lines: Sequence[LineInput]) -> Totals:
    grosses = [line_gross(li.unit_price, li.quantity, li.discount_percent) for li in lines]
    nets: list[Decimal] = [ZERO] * len(lines)
    rates: list[RateTotal] = []
    for treatment in RATE_ORDER:
        members = [i for i, li in enumerate(lines) if li.treatment == treatment]
        if not members:
            continue
        rate = rate_of(treatment)
        gross = sum((grosses[i] for i in members), ZERO)
        vat = vat_in(gross, rate)
        net = gross - vat
        running, allocated = ZERO, ZERO
        for position, i in enumerate(members):
            running += grosses[i]
            last = position == len(members) - 1
            upto = net if last else (to_cents(running * net / gross) if gross else ZERO)
            nets[i] = upto - allocated
            allocated = upto
        rates.append(RateTotal(treatment, rate, gross, net, vat))
    amounts = [
        LineAmounts(li.key, li.treatment, rate_of(li.treatment), grosses[i], nets[i],
                    grosses[i] - nets[i])
        for i, li in enumerate(lines)
    ]
    return Totals(
        lines=amounts, rates=rates,
        gross=sum((r.gross for r in rates), ZERO),
        net=sum((r.net for r in rates), ZERO),
        vat=sum((r.vat for r in rates), ZERO),
    )


def stored_rate_totals(lines: Iterable[Any]) -> list[RateTotal]:
    """Per VAT rate the sums of stored line amounts, as an invoice or credit note shows them."""
    lines = list(lines)
    totals = []
    for treatment in RATE_ORDER:
        members = [li for li in lines if li.vat_treatment == treatment]
        if members:
            totals.append(RateTotal(
                treatment, members[0].vat_rate,
                sum((li.gross.amount for li in members), Decimal(0)),
                sum((li.net.amount for li in members), Decimal(0)),
                sum((li.vat.amount for li in members), Decimal(0))))
    return totals
