"""Reads about payments that other screens share (the calendar, the patient page)."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import OuterRef, Subquery, Sum

from packages.ledger_models import CreditEntry, CreditLot

Kind = CreditEntry.Kind


def unpaid_lots() -> Subquery:
    """Lots whose last activation-or-deactivation is a deactivation: their invoice's payment
    was reversed and it is short again (DOMAIN.md rule 7)."""
    last = CreditEntry.objects.filter(
        lot=OuterRef("pk"), kind__in=[Kind.ACTIVATE, Kind.DEACTIVATE]).order_by("-pk")
    return Subquery(CreditLot.objects.annotate(last=Subquery(last.values("kind")[:1]))
                    .filter(last=Kind.DEACTIVATE).values("pk"))


def unpaid_appointment_ids(appointment_ids: Iterable[int]) -> set[int]:
    """Of these appointments, those holding reserved credits of a lot whose invoice is
    unpaid again: the calendar and the patient page flag them "package unpaid". One query."""
    ids = list(appointment_ids)
    if not ids:
        return set()
    held = (CreditEntry.objects.filter(appointment_id__in=ids, lot_id__in=unpaid_lots())
            .values("appointment_id", "lot_id").annotate(n=Sum("d_reserved"))
            .filter(n__gt=0))
    return {row["appointment_id"] for row in held}


def unpaid_appointments_of_lots(lot_ids: Iterable[int]) -> list[int]:
    """Appointments holding reserved credits of these lots that are unpaid again."""
    held = (CreditEntry.objects.filter(lot_id__in=list(lot_ids), appointment__isnull=False)
            .filter(lot_id__in=unpaid_lots())
            .values("appointment_id", "lot_id").annotate(n=Sum("d_reserved")).filter(n__gt=0))
    return sorted({row["appointment_id"] for row in held})
