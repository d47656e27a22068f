"""Objects the invoice tests need: a practice that may invoice, patients, packages, products."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from djmoney.money import Money

from core.models import Practice
from invoicing.invoices import LineData, create_draft
from invoicing.models import Invoice, Product
from packages.models import Package
from patients.models import Patient


def practice(**changes: Any) -> Practice:
    obj = Practice.get()
    values = {
        "name": "Fysiotherapie De Linde", "street": "Lindelaan 12", "postal_code": "3511 AB",
        "city": "Utrecht", "email": "info@delinde.example", "phone": "030 123 45 67",
        "kvk_number": "12345678", "vat_id": "NL000099998B57", "iban": "NL91ABNA0417164300",
        "invoice_prefix": "", "payment_term_days": 14,
    } | changes
    for field, value in values.items():
        setattr(obj, field, value)
    obj.save()
    return obj


def patient(first: str = "Piet", last: str = "Jansen", **extra: Any) -> Patient:
    values = {"street": "Kerkstraat 1", "postal_code": "1234 AB", "city": "Zeist"} | extra
    return Patient.objects.create(first_name=first, last_name=last, **values)


def package(name: str = "Fysio 10×") -> Package:
    return Package.objects.create(name=name, internal_rate=Money(60, "EUR"))


def product(code: str = "FYS10", name: str = "Fysio 10 behandelingen",
            price: str | Decimal = "1200.00", vat: str = "exempt",
            package: Package | None = None, credits: int | None = None) -> Product:
    return Product.objects.create(
        code=code, name=name, price=Money(Decimal(price), "EUR"), vat_treatment=vat,
        package=package, credits_per_unit=credits if package else None)


def draft(who: Patient, lines: list[tuple[Product, int]] | list[LineData], by: Any) -> Invoice:
    data = [li if isinstance(li, LineData) else LineData(li[0], li[1]) for li in lines]
    return create_draft(patient=who, lines=data, by=by)
