"""Reads about packages that the screens share."""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet

from invoicing.models import Product
from packages import ledger
from packages.ledger_models import CreditBalance, CreditEntry, CreditLot
from scheduling.models import AppointmentType


def with_sellability(packages: QuerySet[Any]) -> QuerySet[Any]:
    """Annotate `has_product` and `has_type`: whether an active product and an active
    appointment type link the package (DOMAIN.md: sellable needs both). Two subqueries, so a
    list costs the same number of queries for 1 row as for 50."""
    return packages.annotate(
        has_product=Exists(Product.objects.filter(package=OuterRef("pk"), is_active=True)),
        has_type=Exists(AppointmentType.objects.filter(package=OuterRef("pk"), is_active=True)),
    )


@dataclass(frozen=True)
class CreditPreview:
    """What a booking of a package type would do to the patient's credits."""

    package: Any
    available: int  # in the lots covering the first date
    planned: int  # reserved for other appointments
    needed: int

    @property
    def remaining(self) -> int:
        return self.available - self.needed

    @property
    def enough(self) -> bool:
        return self.remaining >= 0


def credit_preview(patient: Any, appointment_type: Any, start: datetime.datetime | None,
                   weeks: int = 1) -> CreditPreview | None:
    """For the booking dialog; None when the type uses no credits. Exactness for a series
    whose later dates fall outside a lot is left to the booking itself."""
    package = getattr(appointment_type, "package", None)
    if package is None or patient is None:
        return None
    balance = CreditBalance.objects.filter(patient=patient, package=package).first()
    return CreditPreview(
        package=package, available=ledger.available_for(patient, package, start),
        planned=balance.reserved if balance else 0,
        needed=(appointment_type.credits or 0) * max(weeks, 1),
    )


def credits_left(patient: Any, package: Any) -> int:
    return ledger.available_for(patient, package)


# ── The patient page's Packages tab (read-only) ───────────────────────────────────────────

def patient_balances(patient: Any) -> list[CreditBalance]:
    """Per package the five buckets, each with its lots (`lot_list`). Two queries."""
    balances = list(CreditBalance.objects.filter(patient=patient)
                    .select_related("package").order_by("package__name", "pk"))
    lots: dict[int, list[CreditLot]] = {}
    for lot in CreditLot.objects.filter(balance__in=balances).order_by("pk"):
        lots.setdefault(lot.balance_id, []).append(lot)
    for balance in balances:
        balance.lot_list = lots.get(balance.pk, [])  # type: ignore[attr-defined]
    return balances


def patient_history(patient: Any) -> QuerySet[CreditEntry, int]:
    """The primary keys of every ledger entry of the patient, newest first: count and slice
    this (a page of the tab), then load the page with `history_entries`. Sorting bare entries
    first keeps a long history cheap: joining every entry before the sort does not."""
    return (CreditEntry.objects.filter(lot__balance__patient=patient)
            .order_by("-created_at", "-pk").values_list("pk", flat=True))


def history_entries(pks: Iterable[int]) -> list[CreditEntry]:
    """These ledger entries, in this order, with their package, appointment or invoice and
    who made them. One query."""
    order = list(pks)
    found = CreditEntry.objects.filter(pk__in=order).select_related(
        "lot__balance__package", "lot__invoice_line__invoice", "appointment__type", "created_by")
    by_pk = {entry.pk: entry for entry in found}
    return [by_pk[pk] for pk in order if pk in by_pk]


def badges(patient: Any) -> list[CreditBalance]:
    """The header badges: packages the patient has or had credits in."""
    return list(CreditBalance.objects.filter(patient=patient)
                .filter(Q(available__gt=0) | Q(reserved__gt=0) | Q(pending__gt=0))
                .select_related("package").order_by("package__name"))


@dataclass(frozen=True)
class AppointmentCredits:
    package: Any
    reserved: int
    used: int
    forfeited: bool


def appointment_credits(appointment: Any) -> AppointmentCredits | None:
    """What the appointment holds or used, for its dialog. One query."""
    entries = list(CreditEntry.objects.filter(appointment=appointment)
                   .select_related("lot__balance__package"))
    if not entries:
        return None
    return AppointmentCredits(
        package=entries[0].lot.balance.package,
        reserved=sum(e.d_reserved for e in entries), used=sum(e.d_used for e in entries),
        forfeited=any(e.forfeited and e.d_used > 0 for e in entries),
    )
