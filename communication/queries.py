"""Reads of communication, for the screens and for other apps' pages."""

from __future__ import annotations

from typing import Any

from django.db.models import Case, IntegerField, QuerySet, Value, When

from .models import EmailTemplate, Event, OutgoingEmail


def templates_in_list_order() -> QuerySet[EmailTemplate]:
    order = Case(*[When(event=e.value, then=Value(i)) for i, e in enumerate(Event)],
                 output_field=IntegerField())
    return EmailTemplate.objects.prefetch_related("texts").order_by(order, "name", "pk")


def invoice_templates() -> QuerySet[EmailTemplate]:
    """What a product may choose for its invoice emails (the standard one first)."""
    return EmailTemplate.objects.filter(event=Event.PRODUCT_INVOICE).order_by("name")


def emails_for_patient(patient: Any) -> QuerySet[OutgoingEmail]:
    pk = getattr(patient, "pk", patient)
    return OutgoingEmail.objects.filter(patient_id=pk, is_test=False).prefetch_related(
        "attachments"
    )
