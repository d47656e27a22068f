"""Money helpers: the one rounding policy (ROUND_HALF_UP to the cent) and display."""

from __future__ import annotations

import re
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


def per_unit(value: Money, count: int) -> Money:
    """The amount of one of `count` equal parts, e.g. the price per credit (1200 / 10)."""
    return eur(value.amount / count)


def parse_amount(text: str, language: str | None = None) -> Decimal:
    """Read an amount as a user types it: 1200, 1200,50, 1.200,00, € 1.200 (Dutch) or
    1,200.00 (English). Raises ValueError when it is not an amount."""
    language = (language or translation.get_language() or "nl")[:2]
    decimal_sep = "," if language == "nl" else "."
    value = text.strip().replace("€", "").replace("EUR", "").replace("\xa0", "").replace(" ", "")
    if len(value) > 30:
        raise ValueError(text)
    if "," in value and "." in value:
        decimal_sep = max((",", "."), key=value.rindex)  # the last one separates the cents
    elif sep := next((s for s in (",", ".") if s in value), ""):
        # 1.000.000, or the other language's habit (1.200 in Dutch), is grouping
        grouping = value.count(sep) > 1 or (
            sep != decimal_sep and len(value.rsplit(sep, 1)[1]) == 3
        )
        decimal_sep = ("." if sep == "," else ",") if grouping else sep
    group_sep = "." if decimal_sep == "," else ","
    whole, _sep, cents = value.partition(decimal_sep)
    if group_sep in whole:
        if not re.fullmatch(rf"[-+]?\d{{1,3}}(\{group_sep}\d{{3}})+", whole):
            raise ValueError(text)
        whole = whole.replace(group_sep, "")
    number = f"{whole}.{cents}" if cents else whole
    if not re.fullmatch(r"[-+]?\d+(\.\d+)?", number):
        raise ValueError(text)
    return Decimal(number)
