"""What the pdf and pipeline benchmarks need on top of the demo practice: a logo the
invoices snapshot, a VAT id (so taxed lines may be invoiced), a few products of each VAT
treatment, and drafts made through the app's own write path. Call after `use_database`."""

from __future__ import annotations

from decimal import Decimal
from io import BytesIO
from typing import Any

from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from djmoney.money import Money

from core.models import Practice
from invoicing.invoices import LineData, create_draft
from invoicing.models import Invoice, Product, VatTreatment
from patients.models import Patient


def logo_png() -> bytes:
    """A 600×200 logo with some colour in it: a PNG as a practice would upload."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (600, 200), "white")
    draw = ImageDraw.Draw(image)
    draw.ellipse((20, 20, 180, 180), fill=(31, 111, 139))
    draw.rectangle((210, 70, 580, 130), fill=(23, 49, 61))
    out = BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def prepare_practice() -> Practice:
    """The demo practice with a logo and a VAT id."""
    practice = Practice.get()
    practice.logo.name = default_storage.save("practice/logo.png", ContentFile(logo_png()))
    practice.vat_id = "NL000099998B57"
    practice.save()
    return practice


def products() -> list[Product]:
    """The demo's package product and one product at 21 % and one at 9 %."""
    made = [Product.objects.get(code="FYS10")]
    for code, name, price, treatment in [
        ("FIT", "Fysiofitness maand", "60.50", VatTreatment.HIGH),
        ("SHAKE", "Eiwitshake", "3.27", VatTreatment.LOW),
    ]:
        made.append(Product.objects.get_or_create(code=code, defaults={
            "name": name, "price": Money(Decimal(price), "EUR"),  # type: ignore[misc]
            "vat_treatment": treatment,
        })[0])
    return made


def lines(count: int, choice: list[Product]) -> list[LineData]:
    """`count` lines: the package product first, then a mix with quantities and discounts."""
    made = [LineData(choice[0], 1)]
    made += [LineData(choice[i % len(choice)], 1 + i % 2, Decimal(5 * (i % 3)))
             for i in range(1, count)]
    return made


def admin() -> User:
    return User.objects.get(username="admin")


def patient_with_email() -> Patient:
    return Patient.objects.exclude(email="").order_by("pk").first()  # type: ignore[return-value]


def draft(patient: Any, count: int, choice: list[Product], by: User) -> Invoice:
    return create_draft(patient=patient, lines=lines(count, choice), by=by)
