"""The placeholders each email may use: name, what it means, and a sample for previews.

This allow-list is the whole vocabulary of the templates: the renderer knows nothing else.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.utils import formats, translation
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from djmoney.money import Money

from core.money import format_amount

from .models import Event

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


@dataclass(frozen=True)
class Placeholder:
    name: str
    description: str | Promise
    sample: Any


def _p(name: str, description: str | Promise, sample: Any) -> Placeholder:
    return Placeholder(name, description, sample)


_SAMPLE_START = datetime.datetime(2026, 3, 3, 14, 30, tzinfo=AMSTERDAM)

PATIENT_AND_PRACTICE = [
    _p("patient_first_name", _("The patient's first name"), "Sanne"),
    _p("patient_last_name", _("The patient's last name"), "de Vries"),
    _p("practice_name", _("The name of the practice"), "Fysiotherapie De Linde"),
    _p("practice_address", _("The practice's street, postal code and city"),
       "Lindelaan 12, 3511 AB Utrecht"),
    _p("practice_phone", _("The practice's phone number"), "030 123 45 67"),
    _p("practice_email", _("The practice's email address"), "info@delinde.example"),
]

INVOICE = [
    _p("invoice_number", _("The invoice number"), "2026-00042"),
    _p("invoice_date", _("The date of the invoice"), datetime.date(2026, 2, 2)),
    _p("invoice_total", _("The amount of the invoice, VAT included"), Money("1200.00", "EUR")),
    _p("due_date", _("The date by which the invoice must be paid"), datetime.date(2026, 2, 16)),
    _p("iban", _("The practice's IBAN"), "NL91 ABNA 0417 1643 00"),
    _p("payment_reference", _("The reference to mention with the payment"), "2026-00042"),
]
PACKAGE = [
    _p("package_name", _("The name of the package"), "Fysio 10×"),
    _p("credits", _("The number of credits of the package on this invoice"), 10),
]
APPOINTMENT = [
    _p("appointment_start", _("Date and time of the appointment"), _SAMPLE_START),
    _p("appointment_type", _("The kind of appointment"), "Fysiotherapie 30 min"),
    _p("practitioner_name", _("The practitioner the appointment is with"), "Tessa Therapeut"),
]
AVAILABLE = _p(
    "credits_available", _("Credits the patient has available in the package now"), 3
)

BY_EVENT: dict[str, list[Placeholder]] = {
    Event.PRODUCT_INVOICE: [*INVOICE, *PACKAGE],
    Event.CREDIT_NOTE: [
        _p("credit_note_number", _("The number of the credit note"), "2026-00043"),
        _p("credit_note_date", _("The date of the credit note"), datetime.date(2026, 2, 20)),
        _p("credit_note_total", _("The amount credited"), Money("1200.00", "EUR")),
        _p("invoice_number", _("The number of the invoice it corrects"), "2026-00042"),
        PACKAGE[0],
        _p("credits", _("The number of credits withdrawn"), 10),
    ],
    Event.PAYMENT_RECEIVED: [
        _p("invoice_number", _("The invoice number"), "2026-00042"),
        _p("amount_paid", _("The amount received"), Money("1200.00", "EUR")),
        PACKAGE[0],
        _p("credits", _("The number of credits that became available"), 10),
        AVAILABLE,
    ],
    Event.APPOINTMENT_CONFIRMATION: [*APPOINTMENT, PACKAGE[0], AVAILABLE],
    Event.APPOINTMENT_REMINDER: list(APPOINTMENT),
    Event.APPOINTMENT_CANCELLED: [*APPOINTMENT, PACKAGE[0], AVAILABLE],
    Event.CREDITS_LOW: [PACKAGE[0], AVAILABLE],
    Event.CREDITS_EXPIRING: [
        PACKAGE[0],
        _p("credits_expiring", _("The number of credits that will expire"), 4),
        _p("expiry_date", _("The last day the credits can be used"), datetime.date(2026, 6, 30)),
    ],
}


def for_event(event: str) -> list[Placeholder]:
    """Every placeholder the event's emails may use, patient and practice ones first."""
    return [*PATIENT_AND_PRACTICE, *BY_EVENT[event]]


def names_for(event: str) -> frozenset[str]:
    return frozenset(p.name for p in for_event(event))


def format_value(value: Any, language: str) -> str:
    """A value as the recipient reads it, in their language."""
    with translation.override(language):
        if value is None:
            return ""
        if isinstance(value, Money):
            return format_amount(value, language)
        if isinstance(value, Decimal):
            return format_amount(value, language)
        if isinstance(value, datetime.datetime):
            local = value.astimezone(AMSTERDAM)
            return formats.date_format(local, "l j F Y, H:i")
        if isinstance(value, datetime.date):
            return formats.date_format(value, "j F Y")
        if isinstance(value, bool | int | str | Promise):
            return str(value)
    raise TypeError(f"A placeholder value must be text, a number, an amount or a date: {value!r}")


def sample_context(event: str, language: str, **real: Any) -> dict[str, str]:
    """Sample values for a preview; `real` overrides (e.g. the practice's own name)."""
    values = {p.name: p.sample for p in for_event(event)} | real
    return {name: format_value(value, language) for name, value in values.items()}
