"""Money helpers: the one rounding policy (ROUND_HALF_UP to the cent) and display."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from django.utils import translation
from djmoney.money import Money

CENT = Decimal("0.01")


def to_cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def eur(value: Decimal | int | str) -> Money:
    return Money(to_cents(Decimal(value)), "EUR")


def format_amount(value: Money | Decimal, language: str | None = None) -> str:
    """€ 1.200,00 in Dutch, €1,200.00 in English."""
    amount = value.amount if isinstance(value, Money) else Decimal(value)
    amount = to_cents(amount)
    language = (language or translation.get_language() or "nl")[:2]
    sign = "-" if amount < 0 else ""
    whole, cents = f"{abs(amount):.2f}".split(".")
    groups: list[str] = []
    while whole:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    if language == "nl":
        return f"€ {sign}{'.'.join(groups)},{cents}"
    return f"{sign}€{','.join(groups)}.{cents}"
