"""Amounts typed the Dutch or the English way, and the price per credit's rounding."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import translation

from core.fields import EuroInput
from core.money import eur, format_amount, parse_amount, per_unit


@pytest.mark.parametrize(
    ("text", "language", "amount"),
    [
        ("1200", "nl", "1200"), ("1200,50", "nl", "1200.50"), ("1.200,00", "nl", "1200.00"),
        ("€ 1.200", "nl", "1200"), ("1.000.000", "nl", "1000000"), ("12.50", "nl", "12.50"),
        ("1,200.00", "en", "1200.00"), ("1,200", "en", "1200"), ("1.5", "en", "1.5"),
        ("12,50", "en", "12.50"), ("-5", "nl", "-5"), (" 45 ", "nl", "45"),
    ],
)
def test_amounts_are_read_as_the_user_means_them(text: str, language: str, amount: str) -> None:
    assert parse_amount(text, language) == Decimal(amount)


@pytest.mark.parametrize(
    "text",
    ["", "abc", "1e5", "NaN", "Infinity", "12,5,0.0", "1.2.3", "1,2,3", "1.200,00.5", "1" * 40],
)
def test_what_is_not_an_amount_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_amount(text, "nl")


@pytest.mark.parametrize(
    ("price", "credits", "expected"),
    [("1200", 10, "120.00"), ("100", 3, "33.33"), ("200", 3, "66.67"), ("0.05", 2, "0.03")],
)
def test_price_per_credit_rounds_half_up_to_the_cent(price: str, credits: int,
                                                     expected: str) -> None:
    assert per_unit(eur(price), credits) == eur(expected)


def test_price_per_credit_is_shown_both_ways() -> None:
    assert format_amount(per_unit(eur("1200"), 10), "nl") == "€ 120,00"
    assert format_amount(per_unit(eur("12000"), 10), "en") == "€1,200.00"


def test_amount_input_is_ready_to_edit_in_each_language() -> None:
    with translation.override("nl"):
        assert EuroInput().format_value(eur("1200")) == "1200,00"
    with translation.override("en"):
        assert EuroInput().format_value(eur("1200")) == "1200.00"
