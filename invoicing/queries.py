"""Reads about payments that other screens share (the calendar, the patient page)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import OuterRef, QuerySet, Subquery, Sum

from packages.ledger_models import CreditEntry

Kind = CreditEntry.Kind


def last_activation(lot: OuterRef) -> Subquery:
    """The kind of a lot's last activation-or-deactivation; a deactivation means its invoice's
    payment was reversed and it is short again (DOMAIN.md rule 7). Correlated with the lot
    at hand, so only the lots a screen shows are looked at (one probe of the partial index
    entry_lot_activation each), never every lot of the practice."""
    changes = CreditEntry.objects.filter(lot=lot, kind__in=[Kind.ACTIVATE, Kind.DEACTIVATE])
    return Subquery(changes.order_by("-pk").values("kind")[:1])


def _held_unpaid(entries: QuerySet[CreditEntry]) -> QuerySet[Any]:
    """Of these entries, the (appointment, lot) pairs still holding reserved credits of a lot
    that is unpaid again."""
    return (entries.alias(last=last_activation(OuterRef("lot_id")))
            .filter(last=Kind.DEACTIVATE)
            .values("appointment_id", "lot_id").annotate(n=Sum("d_reserved")).filter(n__gt=0))


def unpaid_appointment_ids(appointment_ids: Iterable[int]) -> set[int]:
    """Of these appointments, those holding reserved credits of a lot whose invoice is
    unpaid again: the calendar and the patient page flag them "package unpaid". One query."""
    ids = list(appointment_ids)
    if not ids:
        return set()
    held = _held_unpaid(CreditEntry.objects.filter(appointment_id__in=ids))
    return {row["appointment_id"] for row in held}


def unpaid_appointments_of_lots(lot_ids: Iterable[int]) -> list[int]:
    """Appointments holding reserved credits of these lots that are unpaid again."""
    held = _held_unpaid(CreditEntry.objects.filter(lot_id__in=list(lot_ids),
                                                   appointment__isnull=False))
    return sorted({row["appointment_id"] for row in held})
