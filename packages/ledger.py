"""The credit ledger's only write path (DOMAIN.md rules 1-5).

Every change is an append-only CreditEntry with a unique idempotency key, plus the same
deltas applied to the lot's and the balance's counters, in one transaction. Concurrency:
the (patient, package) balance row is locked first, then lots in primary-key order, so two
bookings of the last credit serialise and the second one sees the first one's reservation.
A repeated key returns the entry already written and changes nothing.
"""

from __future__ import annotations

import calendar
import datetime
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.db.models import F, Q, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from djmoney.money import Money

from core.money import CENT

from .ledger_models import BUCKETS, CreditBalance, CreditEntry, CreditLot
from .models import Package, ValidityUnit

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
Kind = CreditEntry.Kind

# Test-only hook: called between reading the covering lots and writing the reservation,
# so the race test can prove that without the lock the race is real.
_between_read_and_write: Callable[[], None] | None = None
_lock_balances = True


class LedgerError(Exception):
    """A ledger rule refused the change; the message is for the user."""


class InsufficientCredits(LedgerError):
    def __init__(self, package: Package, available: int, needed: int, on: datetime.date):
        self.package, self.available, self.needed, self.on = package, available, needed, on
        super().__init__(
            _("Insufficient credits: %(available)s available in ‘%(package)s’, %(needed)s needed")
            % {"available": available, "package": package.name, "needed": needed}
        )


@dataclass(frozen=True)
class Move:
    """Deltas of one entry, per bucket."""

    pending: int = 0
    available: int = 0
    reserved: int = 0
    used: int = 0
    expired: int = 0

    def as_fields(self) -> dict[str, int]:
        return {f"d_{b}": getattr(self, b) for b in BUCKETS}


# ---------------------------------------------------------------------------- helpers

def local_date(moment: datetime.datetime) -> datetime.date:
    return timezone.localtime(moment, AMSTERDAM).date()


def add_months(day: datetime.date, months: int) -> datetime.date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    last_day = calendar.monthrange(year, month)[1]
    return day.replace(year=year, month=month, day=min(day.day, last_day))


def expiry_from(lot: CreditLot, start: datetime.date) -> datetime.date | None:
    if lot.validity_unit == ValidityUnit.NONE or not lot.validity_count:
        return None
    if lot.validity_unit == ValidityUnit.DAYS:
        return start + datetime.timedelta(days=lot.validity_count)
    return add_months(start, lot.validity_count)


def credit_values(lot: CreditLot) -> list[Decimal]:
    """Value of each credit of the lot: equal cents, the last credit taking the remainder."""
    total: Decimal = lot.value_total.amount  # type: ignore[attr-defined]
    base = (total / lot.credits).quantize(CENT, rounding="ROUND_DOWN")
    return [base] * (lot.credits - 1) + [total - base * (lot.credits - 1)]


def lock_balance(patient: Any, package: Package) -> CreditBalance:
    balance, _created = CreditBalance.objects.get_or_create(patient=patient, package=package)
    if not _lock_balances:
        return balance
    return CreditBalance.objects.select_for_update().get(pk=balance.pk)


def lock_balance_of(lot: CreditLot) -> CreditBalance:
    if not _lock_balances:
        return CreditBalance.objects.get(pk=lot.balance_id)
    return CreditBalance.objects.select_for_update().get(pk=lot.balance_id)


def existing(key: str) -> CreditEntry | None:
    return CreditEntry.objects.filter(idempotency_key=key).first()


def post(lot: CreditLot, kind: str, credits: int, move: Move, *, key: str, by: Any,
         appointment: Any = None, reason: str = "", forfeited: bool = False,
         expires_on: datetime.date | None = None) -> CreditEntry:
    """Write one entry and apply its deltas to the lot and its balance. Caller holds the locks."""
    entry = CreditEntry.objects.create(
        lot=lot, kind=kind, credits=credits, appointment=appointment, reason=reason,
        forfeited=forfeited, expires_on=expires_on, idempotency_key=key,
        created_by=by if getattr(by, "pk", None) else None, **move.as_fields(),
    )
    updates = {b: F(b) + getattr(move, b) for b in BUCKETS if getattr(move, b)}
    if updates:
        try:
            with transaction.atomic():
                CreditLot.objects.filter(pk=lot.pk).update(**updates)
                CreditBalance.objects.filter(pk=lot.balance_id).update(**updates)
        except IntegrityError as exc:  # a CHECK (never below zero) refused it
            raise LedgerError(_("This would make a credit balance negative.")) from exc
        lot.refresh_from_db(fields=list(BUCKETS))
    return entry


def locked_lots(balance: CreditBalance, lots: QuerySet[CreditLot] | None = None) -> list[CreditLot]:
    qs = lots if lots is not None else balance.lots.all()
    if _lock_balances:
        qs = qs.select_for_update()
    return list(qs.order_by("pk"))


def locked_lot(lot: CreditLot) -> CreditLot:
    """Lock the lot's balance, then the lot; return the lot as stored."""
    balance = lock_balance_of(lot)
    (fresh,) = locked_lots(balance, CreditLot.objects.filter(pk=lot.pk))
    return fresh


def keyed(key: str) -> list[CreditEntry]:
    """The entries one multi-lot operation wrote: `key`, then `key:2`, `key:3`, …"""
    return list(CreditEntry.objects.filter(Q(idempotency_key=key)
                                           | Q(idempotency_key__startswith=f"{key}:")))


def entry_key(key: str, index: int) -> str:
    return key if index == 0 else f"{key}:{index + 1}"


# ---------------------------------------------------------------------------- lots

@transaction.atomic
def grant_lot(*, patient: Any, package: Package, credits: int, value_total: Money,
              source: str, pending: bool, key: str, by: Any, reason: str = "",
              expires_on: datetime.date | None = None) -> CreditLot:
    """A new lot: pending for an invoice line, available at once for an import or grant."""
    if credits < 1:
        raise LedgerError(_("A lot needs at least one credit."))
    if value_total.amount < 0:
        raise LedgerError(_("A lot's value cannot be negative."))
    balance = lock_balance(patient, package)
    done = existing(key)
    if done is not None:
        return done.lot
    lot = CreditLot.objects.create(
        balance=balance, source=source, credits=credits,
        value_total=value_total,  # type: ignore[misc]
        ledger_account=package.ledger_account, balance_sheet_item=package.balance_sheet_item,
        free_cancel_hours=package.free_cancel_hours,
        late_cancel_outcome=package.late_cancel_outcome,
        no_show_outcome=package.no_show_outcome, validity_unit=package.validity_unit,
        validity_count=package.validity_count, note=reason,
        created_by=by if getattr(by, "pk", None) else None,
    )
    if not pending:
        lot.activated_at = timezone.now()
        lot.expires_on = expires_on or expiry_from(lot, local_date(lot.activated_at))
        lot.save(update_fields=["activated_at", "expires_on"])
    move = Move(pending=credits) if pending else Move(available=credits)
    post(lot, Kind.GRANT, credits, move, key=key, by=by, reason=reason, expires_on=lot.expires_on)
    return lot


@transaction.atomic
def activate_lot(lot: CreditLot, *, key: str, by: Any) -> CreditEntry | None:
    """Paid: the lot's pending credits become available and its validity starts (once)."""
    lot = locked_lot(lot)
    done = existing(key)
    if done is not None:
        return done
    if lot.pending == 0:
        return None
    if lot.activated_at is None:
        lot.activated_at = timezone.now()
        lot.expires_on = expiry_from(lot, local_date(lot.activated_at))
        lot.save(update_fields=["activated_at", "expires_on"])
    return post(lot, Kind.ACTIVATE, lot.pending, Move(pending=-lot.pending,
                available=lot.pending), key=key, by=by, expires_on=lot.expires_on)


@transaction.atomic
def deactivate_lot(lot: CreditLot, *, key: str, by: Any, reason: str = "") -> CreditEntry | None:
    """Payment reversed: unused available credits are pending again; reserved ones stay."""
    lot = locked_lot(lot)
    done = existing(key)
    if done is not None:
        return done
    if lot.available == 0:
        return None
    n = lot.available
    return post(lot, Kind.DEACTIVATE, n, Move(available=-n, pending=n), key=key, by=by,
                reason=reason)


@transaction.atomic
def revoke(lot: CreditLot, credits: int, *, key: str, by: Any, reason: str = "") -> CreditEntry:
    """A credit note takes back available credits (never reserved or used ones)."""
    lot = locked_lot(lot)
    done = existing(key)
    if done is not None:
        return done
    if credits < 1 or credits > lot.available:
        raise LedgerError(
            _("Only %(n)s credits of this lot are available to credit.") % {"n": lot.available}
        )
    return post(lot, Kind.REVOKE, credits, Move(available=-credits), key=key, by=by,
                reason=reason)


@transaction.atomic
def adjust(lot: CreditLot, change: int, *, reason: str, key: str, by: Any) -> CreditEntry:
    """An administrator's correction of a lot's available credits, with a reason."""
    if not reason.strip():
        raise LedgerError(_("An adjustment needs a reason."))
    if change == 0:
        raise LedgerError(_("An adjustment changes at least one credit."))
    lot = locked_lot(lot)
    done = existing(key)
    if done is not None:
        return done
    if lot.available + change < 0:
        raise LedgerError(
            _("Only %(n)s credits of this lot are available to take away.") % {"n": lot.available}
        )
    return post(lot, Kind.ADJUST, abs(change), Move(available=change), key=key, by=by,
                reason=reason)


@transaction.atomic
def extend(lot: CreditLot, new_expiry: datetime.date | None, *, reason: str, key: str,
           by: Any) -> CreditEntry:
    """Move a lot's expiry later (or remove it), with a reason: an entry, not an edit."""
    if not reason.strip():
        raise LedgerError(_("Extending a lot needs a reason."))
    lot = locked_lot(lot)
    done = existing(key)
    if done is not None:
        return done
    if lot.expires_on is None or (new_expiry is not None and new_expiry <= lot.expires_on):
        raise LedgerError(_("The new expiry must be later than the current one."))
    lot.expires_on = new_expiry
    lot.save(update_fields=["expires_on"])
    return post(lot, Kind.EXTEND, 0, Move(), key=key, by=by, reason=reason,
                expires_on=new_expiry)


@transaction.atomic
def expire_lots(today: datetime.date, *, by: Any = None) -> int:
    """At a lot's expiry its unreserved credits expire; reserved ones stay with their visits."""
    count = 0
    due = CreditLot.objects.filter(expires_on__lt=today, available__gt=0).values_list(
        "pk", "balance__patient_id", "balance__package_id")
    ordered = due.order_by("balance__patient_id", "balance__package_id", "pk")
    for lot_pk, patient_id, package_id in ordered:
        balance = CreditBalance.objects.select_for_update().get(
            patient_id=patient_id, package_id=package_id)
        (lot,) = locked_lots(balance, CreditLot.objects.filter(pk=lot_pk))
        if lot.available and lot.expires_on and lot.expires_on < today:
            post(lot, Kind.EXPIRE, lot.available, Move(available=-lot.available,
                 expired=lot.available), key=f"expire:{lot.pk}:{lot.expires_on}", by=by)
            count += 1
    return count


# ---------------------------------------------------------------------------- appointments

def covering(balance: CreditBalance, start: datetime.datetime) -> QuerySet[CreditLot]:
    """Lots whose credits are available now and whose expiry is not before the start."""
    day = local_date(start)
    return balance.lots.filter(available__gt=0).filter(
        Q(expires_on__isnull=True) | Q(expires_on__gte=day)
    ).order_by(F("expires_on").asc(nulls_last=True), "pk")


def available_for(patient: Any, package: Package, start: datetime.datetime | None = None) -> int:
    """Credits a booking at `start` (default: now) could reserve. Read-only."""
    balance = CreditBalance.objects.filter(patient=patient, package=package).first()
    if balance is None:
        return 0
    lots = covering(balance, start or timezone.now())
    return int(lots.aggregate(n=Sum("available"))["n"] or 0)


def held_by(appointment: Any) -> dict[int, int]:
    """Credits each lot still holds reserved for this appointment."""
    held: dict[int, int] = {}
    for entry in CreditEntry.objects.filter(appointment=appointment).only(
            "lot_id", "d_reserved"):
        held[entry.lot_id] = held.get(entry.lot_id, 0) + entry.d_reserved
    return {lot: n for lot, n in held.items() if n}


@transaction.atomic
def reserve(
    appointment: Any, *, credits: int, package: Package, key: str, by: Any
) -> list[CreditEntry]:
    """Reserve the appointment's credits from the covering lots that expire first."""
    balance = lock_balance(appointment.patient, package)
    if existing(key) is not None:
        return keyed(key)
    lots = list(covering(balance, appointment.start))
    available = sum(lot.available for lot in lots)
    if _between_read_and_write is not None:
        _between_read_and_write()
    if available < credits:
        raise InsufficientCredits(package, available, credits, local_date(appointment.start))
    entries: list[CreditEntry] = []
    needed = credits
    for lot in locked_lots(balance, CreditLot.objects.filter(pk__in=[lot.pk for lot in lots])):
        take = min(needed, lot.available)
        if take <= 0:
            continue
        entries.append(post(lot, Kind.RESERVE, take, Move(available=-take, reserved=take),
                            key=entry_key(key, len(entries)), by=by, appointment=appointment))
        needed -= take
        if needed == 0:
            break
    if needed:  # a lot changed between the read and the lock: refuse cleanly
        raise InsufficientCredits(package, credits - needed, credits, local_date(appointment.start))
    return entries


@transaction.atomic
def release(appointment: Any, *, key: str, by: Any, reason: str = "") -> list[CreditEntry]:
    """Give the appointment's reserved credits back to their lots."""
    return _settle(appointment, Kind.RELEASE, key=key, by=by, reason=reason)


@transaction.atomic
def use(
    appointment: Any, *, forfeited: bool, key: str, by: Any, reason: str = ""
) -> list[CreditEntry]:
    """Attended (or forfeited by a late cancellation or no-show): reserved becomes used."""
    return _settle(appointment, Kind.USE, key=key, by=by, reason=reason, forfeited=forfeited)


def _settle(appointment: Any, kind: str, *, key: str, by: Any, reason: str,
            forfeited: bool = False) -> list[CreditEntry]:
    balance = lock_appointment_balance(appointment)
    if balance is None:
        return []
    if existing(key) is not None:
        return keyed(key)
    held = held_by(appointment)  # read under the lock
    entries: list[CreditEntry] = []
    for lot in locked_lots(balance, CreditLot.objects.filter(pk__in=held)):
        n = held[lot.pk]
        move = Move(reserved=-n, available=n) if kind == Kind.RELEASE else Move(reserved=-n, used=n)
        entries.append(post(lot, kind, n, move, key=entry_key(key, len(entries)), by=by,
                            appointment=appointment, reason=reason, forfeited=forfeited))
    return entries


def lock_appointment_balance(appointment: Any) -> CreditBalance | None:
    """The balance the appointment's credits came from (fixed once reserved), locked."""
    entry = CreditEntry.objects.filter(appointment=appointment).select_related("lot").first()
    return lock_balance_of(entry.lot) if entry is not None else None


@transaction.atomic
def reverse_use(appointment: Any, *, reason: str, key: str, by: Any) -> list[CreditEntry]:
    """An administrator's correction of a settled appointment: used credits go back."""
    if not reason.strip():
        raise LedgerError(_("A correction needs a reason."))
    balance = lock_appointment_balance(appointment)
    if balance is None:
        return []
    if existing(key) is not None:
        return keyed(key)
    used: dict[int, int] = {}
    for entry in CreditEntry.objects.filter(appointment=appointment):
        used[entry.lot_id] = used.get(entry.lot_id, 0) + entry.d_used
    used = {lot: n for lot, n in used.items() if n}
    return [
        post(lot, Kind.REVERSE, used[lot.pk], Move(used=-used[lot.pk], available=used[lot.pk]),
             key=entry_key(key, i), by=by, appointment=appointment, reason=reason)
        for i, lot in enumerate(locked_lots(balance, CreditLot.objects.filter(pk__in=used)))
    ]


# ---------------------------------------------------------------------------- checking

def derive_differences() -> list[str]:
    """Re-derive every lot's and balance's counters from the entries; describe differences."""
    sums = {f"s_{b}": Sum(f"d_{b}") for b in BUCKETS}
    derived: dict[int, dict[str, Any]] = {
        row["lot"]: dict(row) for row in CreditEntry.objects.values("lot").annotate(**sums)
    }
    problems: list[str] = []
    per_balance: dict[int, dict[str, int]] = {}
    for lot in CreditLot.objects.select_related("balance__patient", "balance__package"):
        row: dict[str, Any] = derived.get(lot.pk, {})
        totals = per_balance.setdefault(lot.balance_id, dict.fromkeys(BUCKETS, 0))
        for b in BUCKETS:
            want = int(row.get(f"s_{b}") or 0)
            totals[b] += want
            if getattr(lot, b) != want:
                problems.append(
                    f"lot {lot.pk} ({lot.balance}): {b} is {getattr(lot, b)}, entries say {want}"
                )
    for balance in CreditBalance.objects.select_related("patient", "package"):
        totals = per_balance.get(balance.pk, dict.fromkeys(BUCKETS, 0))
        for b in BUCKETS:
            if getattr(balance, b) != totals[b]:
                problems.append(
                    f"balance {balance.pk} ({balance}): {b} is {getattr(balance, b)}, "
                    f"entries say {totals[b]}"
                )
    return problems
