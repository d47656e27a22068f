"""The credit ledger's only write path (DOMAIN.md rules 1-5).

Every change is an append-only CreditEntry with a unique idempotency key, plus the same
deltas applied to the lot's and the balance's counters, in one transaction. Concurrency:
the (patient, package) balance row is locked first, then lots in primary-key order, so two
bookings of the last credit serialise and the second one sees the first one's reservation.
Idempotency keys are checked after the lock: a repeated key returns the entries already
written and changes nothing; a key reused for a different change is refused.
"""

from __future__ import annotations

import calendar
import datetime
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.db.models import F, Q, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from djmoney.money import Money

from core.money import CENT

from .ledger_models import BUCKETS, CreditBalance, CreditEntry, CreditLot, LedgerCheck
from .models import Outcome, Package, ValidityUnit

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
Kind = CreditEntry.Kind

# Test-only hooks: `_between_read_and_write` is called between reading the covering lots and
# writing the reservation; with `_lock_balances` off, the race test proves the race is real.
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


def today_local() -> datetime.date:
    return local_date(timezone.now())


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


def is_past_expiry(lot: CreditLot, today: datetime.date | None = None) -> bool:
    """Expiry is the end of `expires_on` (Europe/Amsterdam): from the next day on, it is past."""
    return lot.expires_on is not None and lot.expires_on < (today or today_local())


def expiring_first(lot: CreditLot) -> tuple[bool, datetime.date, int]:
    """Sort key: the lot that expires first, lots without expiry last, then the oldest."""
    return (lot.expires_on is None, lot.expires_on or datetime.date.max, lot.pk)


def lock_balance(patient: Any, package: Package) -> CreditBalance:
    if _lock_balances:
        locked = CreditBalance.objects.select_for_update().filter(
            patient=patient, package=package).first()
        if locked is not None:
            return locked
    balance, _created = CreditBalance.objects.get_or_create(patient=patient, package=package)
    if not _lock_balances:
        return balance
    return CreditBalance.objects.select_for_update().get(pk=balance.pk)


def lock_balance_of(lot: CreditLot) -> CreditBalance:
    if not _lock_balances:
        return CreditBalance.objects.get(pk=lot.balance_id)
    return CreditBalance.objects.select_for_update().get(pk=lot.balance_id)


def lock_balances(pks: Iterable[int]) -> dict[int, CreditBalance]:
    """Several balances, locked in primary-key order (the order every writer uses)."""
    qs = CreditBalance.objects.filter(pk__in=set(pks)).order_by("pk")
    if _lock_balances:
        qs = qs.select_for_update()
    return {balance.pk: balance for balance in qs}


def existing(key: str) -> CreditEntry | None:
    return CreditEntry.objects.filter(idempotency_key=key).first()


def replay(key: str, kinds: Collection[str], *, appointment: Any = None,
           lot: CreditLot | None = None) -> list[CreditEntry] | None:
    """The entries an earlier call with this key wrote, or None; refuses a reused key."""
    first = existing(key)
    if first is None:
        return None
    if (first.kind not in kinds
            or (appointment is not None and first.appointment_id != appointment.pk)
            or (lot is not None and first.lot_id != lot.pk)):
        raise LedgerError(_("This request was already used for a different change."))
    return keyed(key)


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


@dataclass
class Writer:
    """Posts the entries of one operation under consecutive keys."""

    key: str
    by: Any
    appointment: Any = None
    reason: str = ""
    entries: list[CreditEntry] = field(default_factory=list)

    def post(self, lot: CreditLot, kind: str, credits: int, move: Move,
             forfeited: bool = False) -> CreditEntry:
        entry = post(lot, kind, credits, move, key=entry_key(self.key, len(self.entries)),
                     by=self.by, appointment=self.appointment, reason=self.reason,
                     forfeited=forfeited)
        self.entries.append(entry)
        return entry

    def give_back(self, lot: CreditLot, credits: int, kind: str = Kind.RELEASE,
                  source: str = "reserved") -> None:
        """Credits return to the lot's available ones; on a lot past its expiry they expire
        at once (rule 5), so no credit is available that no booking may use."""
        self.post(lot, kind, credits, Move(available=credits, **{source: -credits}))
        if is_past_expiry(lot) and lot.available:
            self.post(lot, Kind.EXPIRE, lot.available,
                      Move(available=-lot.available, expired=lot.available))


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
    done = replay(key, {Kind.GRANT})
    if done:
        return done[0].lot
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
    done = replay(key, {Kind.ACTIVATE}, lot=lot)
    if done:
        return done[0]
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
    done = replay(key, {Kind.DEACTIVATE}, lot=lot)
    if done:
        return done[0]
    if lot.available == 0:
        return None
    n = lot.available
    return post(lot, Kind.DEACTIVATE, n, Move(available=-n, pending=n), key=key, by=by,
                reason=reason)


@transaction.atomic
def revoke(lot: CreditLot, credits: int, *, key: str, by: Any, reason: str = "",
           include_pending: bool = False) -> CreditEntry:
    """A credit note takes back available credits (never reserved or used ones).

    With `include_pending` (the caller's invoice is not fully paid) it takes the lot's
    pending credits first, then available ones, in one entry: credits taken from pending
    leave the lot, so a later payment activates only what is left of them."""
    lot = locked_lot(lot)
    done = replay(key, {Kind.REVOKE}, lot=lot)
    if done:
        return done[0]
    from_pending = min(credits, lot.pending) if include_pending else 0
    if credits < 1 or credits - from_pending > lot.available:
        if include_pending:
            raise LedgerError(
                _("Only %(n)s credits of this lot (%(pending)s awaiting payment, "
                  "%(available)s available) can be credited.")
                % {"n": lot.pending + lot.available, "pending": lot.pending,
                   "available": lot.available})
        raise LedgerError(
            _("Only %(n)s credits of this lot are available to credit.") % {"n": lot.available}
        )
    return post(lot, Kind.REVOKE, credits,
                Move(pending=-from_pending, available=from_pending - credits), key=key, by=by,
                reason=reason)


@transaction.atomic
def adjust(lot: CreditLot, change: int, *, reason: str, key: str, by: Any) -> CreditEntry:
    """An administrator's correction of a lot's available credits, with a reason."""
    if not reason.strip():
        raise LedgerError(_("An adjustment needs a reason."))
    if change == 0:
        raise LedgerError(_("An adjustment changes at least one credit."))
    lot = locked_lot(lot)
    done = replay(key, {Kind.ADJUST}, lot=lot)
    if done:
        return done[0]
    if lot.available + change < 0:
        raise LedgerError(
            _("Only %(n)s credits of this lot are available to take away.") % {"n": lot.available}
        )
    return post(lot, Kind.ADJUST, abs(change), Move(available=change), key=key, by=by,
                reason=reason)


@transaction.atomic
def extend(lot: CreditLot, new_expiry: datetime.date | None, *, reason: str, key: str,
           by: Any) -> CreditEntry:
    """Move a lot's expiry later (or remove it), with a reason: an entry, not an edit.

    Credits that already expired come back when the new expiry is today or later: extending
    a lapsed package is how an administrator gives a patient more time."""
    if not reason.strip():
        raise LedgerError(_("Extending a lot needs a reason."))
    lot = locked_lot(lot)
    done = replay(key, {Kind.EXTEND}, lot=lot)
    if done:
        return done[0]
    if lot.expires_on is None or (new_expiry is not None and new_expiry <= lot.expires_on):
        raise LedgerError(_("The new expiry must be later than the current one."))
    lot.expires_on = new_expiry
    lot.save(update_fields=["expires_on"])
    revived = lot.expired if not is_past_expiry(lot) else 0
    return post(lot, Kind.EXTEND, revived, Move(expired=-revived, available=revived), key=key,
                by=by, reason=reason, expires_on=new_expiry)


def expire_lots(today: datetime.date, *, by: Any = None) -> int:
    """At a lot's expiry its unreserved credits expire; reserved ones stay with their visits.

    One short transaction per balance, so the sweep never holds many bookings' locks at
    once; safe to run again (it only expires what is still available)."""
    count = 0
    due = CreditLot.objects.filter(expires_on__lt=today, available__gt=0)
    for balance_pk in list(due.values_list("balance_id", flat=True).distinct()
                           .order_by("balance_id")):
        with transaction.atomic():
            balance = lock_balances([balance_pk])[balance_pk]
            for lot in locked_lots(balance, due.filter(balance=balance)):
                n = lot.available
                post(lot, Kind.EXPIRE, n, Move(available=-n, expired=n),
                     key=f"expire:{lot.pk}:{lot.entries.count()}", by=by)
                count += 1
    return count


# ---------------------------------------------------------------------------- appointments

def covers(start: datetime.datetime, today: datetime.date | None = None) -> Q:
    """Lots whose credits are available now and whose expiry (the end of that day, Europe/
    Amsterdam) is not before the start. A lot past its expiry covers nothing, even before
    the nightly sweep has expired its credits."""
    bound = max(local_date(start), today or today_local())
    return Q(available__gt=0) & (Q(expires_on__isnull=True) | Q(expires_on__gte=bound))


def covering(balance: CreditBalance, start: datetime.datetime, *,
             today: datetime.date | None = None) -> QuerySet[CreditLot]:
    """The balance's covering lots (`covers`), those that expire first first."""
    return balance.lots.filter(covers(start, today)).order_by(
        F("expires_on").asc(nulls_last=True), "pk")


def available_for(patient: Any, package: Package, start: datetime.datetime | None = None) -> int:
    """Credits a booking at `start` (default: now) could reserve. Read-only, one query."""
    lots = CreditLot.objects.filter(covers(start or timezone.now()),
                                    balance__patient=patient, balance__package=package)
    return int(lots.aggregate(n=Sum("available"))["n"] or 0)


def held_by(appointment: Any) -> dict[int, int]:
    """Credits each lot still holds reserved for this appointment."""
    held: dict[int, int] = {}
    for entry in CreditEntry.objects.filter(appointment=appointment).only(
            "lot_id", "d_reserved"):
        held[entry.lot_id] = held.get(entry.lot_id, 0) + entry.d_reserved
    return {lot: n for lot, n in held.items() if n}


def allocate(pool: Iterable[tuple[CreditLot, int]], needed: int) -> dict[int, int] | None:
    """Take `needed` credits from the lots that expire first; None when they hold too few."""
    plan: dict[int, int] = {}
    for lot, n in sorted(pool, key=lambda pair: expiring_first(pair[0])):
        if needed == 0:
            break
        take = min(n, needed)
        if take > 0:
            plan[lot.pk] = take
            needed -= take
    return plan if needed == 0 else None


@transaction.atomic
def reserve(
    appointment: Any, *, credits: int, package: Package, key: str, by: Any
) -> list[CreditEntry]:
    """Reserve the appointment's credits from the covering lots that expire first."""
    if credits < 1:
        raise LedgerError(_("A reservation needs at least one credit."))
    balance = lock_balance(appointment.patient, package)
    done = replay(key, {Kind.RESERVE}, appointment=appointment)
    if done is not None:
        return done
    if held_by(appointment):
        raise LedgerError(_("This appointment already holds credits; move it instead."))
    lots = locked_lots(balance, covering(balance, appointment.start))
    available = sum(lot.available for lot in lots)
    if _between_read_and_write is not None:
        _between_read_and_write()
    plan = allocate([(lot, lot.available) for lot in lots], credits)
    if plan is None:
        raise InsufficientCredits(package, available, credits, local_date(appointment.start))
    writer = Writer(key, by, appointment)
    for lot in sorted(lots, key=expiring_first):
        if plan.get(lot.pk):
            n = plan[lot.pk]
            writer.post(lot, Kind.RESERVE, n, Move(available=-n, reserved=n))
    return writer.entries


def appointment_balance(appointment: Any) -> CreditBalance | None:
    """The balance the appointment's credits came from (fixed once reserved)."""
    entry = CreditEntry.objects.filter(appointment=appointment).select_related(
        "lot__balance").first()
    return entry.lot.balance if entry is not None else None


def lock_appointment_balance(appointment: Any) -> CreditBalance | None:
    """The balance the appointment's credits came from, locked."""
    balance = appointment_balance(appointment)
    return lock_balances([balance.pk])[balance.pk] if balance is not None else None


@transaction.atomic
def move_reservation(appointment: Any, new_start: datetime.datetime, *, key: str, by: Any,
                     credits: int | None = None, package: Package | None = None,
                     reason: str = "") -> list[CreditEntry]:
    """Rescheduling (rule 3): the reservation follows the appointment to `new_start`.

    The credits the appointment needs there (default: what it holds; `credits`/`package`
    for a change of type) come from the lots covering the new date that expire first,
    counting what it holds as its own; only the difference is written, so nothing is
    consumed twice. When the covering lots hold too few, InsufficientCredits is raised and
    the old reservation stays as it was."""
    source = appointment_balance(appointment)
    if package is None:
        if source is None:
            raise LedgerError(_("This appointment holds no credits to move."))
        package = source.package
    target, _created = CreditBalance.objects.get_or_create(patient=appointment.patient,
                                                           package=package)
    lock_balances([target.pk] + ([source.pk] if source else []))
    done = replay(key, {Kind.RELEASE, Kind.RESERVE}, appointment=appointment)
    if done is not None:
        return done
    held = held_by(appointment)
    needed = sum(held.values()) if credits is None else credits
    if needed < 0:
        raise LedgerError(_("A reservation needs at least one credit."))
    bound = max(local_date(new_start), today_local())
    candidates = Q(balance=target) & (Q(available__gt=0) | Q(pk__in=held)) & (
        Q(expires_on__isnull=True) | Q(expires_on__gte=bound))
    lots = locked_lots(target, CreditLot.objects.filter(Q(pk__in=held) | candidates))
    pool = [(lot, lot.available + held.get(lot.pk, 0)) for lot in lots
            if lot.balance_id == target.pk and (lot.expires_on is None or lot.expires_on >= bound)]
    plan = allocate(pool, needed)
    if plan is None:
        raise InsufficientCredits(package, sum(n for _lot, n in pool), needed,
                                  local_date(new_start))
    writer = Writer(key, by, appointment, reason)
    for lot in lots:  # primary-key order; each lot's change in one entry
        change = plan.get(lot.pk, 0) - held.get(lot.pk, 0)
        if change < 0:
            writer.give_back(lot, -change)
        elif change > 0:
            writer.post(lot, Kind.RESERVE, change, Move(available=-change, reserved=change))
    return writer.entries


# The outcome of an appointment's reserved credits on one lot.
RETURN, USE, FORFEIT = "return", "use", "forfeit"


def _settle(appointment: Any, outcome: Callable[[CreditLot], str], *, key: str, by: Any,
            reason: str) -> list[CreditEntry]:
    balance = lock_appointment_balance(appointment)
    if balance is None:
        return []
    done = replay(key, {Kind.RELEASE, Kind.USE}, appointment=appointment)
    if done is not None:
        return done
    held = held_by(appointment)  # read under the lock
    writer = Writer(key, by, appointment, reason)
    for lot in locked_lots(balance, CreditLot.objects.filter(pk__in=held)):
        n, what = held[lot.pk], outcome(lot)
        if what == RETURN:
            writer.give_back(lot, n)
        else:
            writer.post(lot, Kind.USE, n, Move(reserved=-n, used=n), forfeited=what == FORFEIT)
    return writer.entries


@transaction.atomic
def release(appointment: Any, *, key: str, by: Any, reason: str = "") -> list[CreditEntry]:
    """Give the appointment's reserved credits back to their lots."""
    return _settle(appointment, lambda lot: RETURN, key=key, by=by, reason=reason)


@transaction.atomic
def use(
    appointment: Any, *, forfeited: bool, key: str, by: Any, reason: str = ""
) -> list[CreditEntry]:
    """Attended (or forfeited by a late cancellation or no-show): reserved becomes used."""
    return _settle(appointment, lambda lot: FORFEIT if forfeited else USE, key=key, by=by,
                   reason=reason)


def by_policy(policy: str) -> str:
    return FORFEIT if policy == Outcome.FORFEIT else RETURN


@transaction.atomic
def settle_cancellation(appointment: Any, *, key: str, by: Any, late: bool | None = None,
                        at: datetime.datetime | None = None, waived: bool = False,
                        reason: str = "") -> list[CreditEntry]:
    """A cancellation (rule 3): in time, or by the practice (`late=False`), releases the
    credits; a late one follows each lot's late-cancellation policy (forfeit = used,
    return = released). With `late=None` each lot's own free-cancellation window decides,
    measured at `at` (default: now). An administrator's waiver (with a reason) releases."""
    if waived and not reason.strip():
        raise LedgerError(_("A waiver needs a reason."))
    moment = at or timezone.now()

    def outcome(lot: CreditLot) -> str:
        is_late = late if late is not None else (
            moment > appointment.start - datetime.timedelta(hours=lot.free_cancel_hours))
        return by_policy(lot.late_cancel_outcome) if is_late and not waived else RETURN

    return _settle(appointment, outcome, key=key, by=by, reason=reason)


@transaction.atomic
def settle_no_show(appointment: Any, *, key: str, by: Any, waived: bool = False,
                   reason: str = "") -> list[CreditEntry]:
    """A no-show follows each lot's no-show policy; an administrator may waive it."""
    if waived and not reason.strip():
        raise LedgerError(_("A waiver needs a reason."))
    return _settle(appointment, lambda lot: RETURN if waived else by_policy(lot.no_show_outcome),
                   key=key, by=by, reason=reason)


@transaction.atomic
def reverse_use(appointment: Any, *, reason: str, key: str, by: Any) -> list[CreditEntry]:
    """An administrator's correction of a settled appointment: used credits go back."""
    if not reason.strip():
        raise LedgerError(_("A correction needs a reason."))
    balance = lock_appointment_balance(appointment)
    if balance is None:
        return []
    done = replay(key, {Kind.REVERSE}, appointment=appointment)
    if done is not None:
        return done
    used: dict[int, int] = {}
    for entry in CreditEntry.objects.filter(appointment=appointment):
        used[entry.lot_id] = used.get(entry.lot_id, 0) + entry.d_used
    writer = Writer(key, by, appointment, reason)
    for lot in locked_lots(balance, CreditLot.objects.filter(pk__in=[k for k, n in used.items()
                                                                     if n])):
        writer.give_back(lot, used[lot.pk], kind=Kind.REVERSE, source="used")
    return writer.entries


# ---------------------------------------------------------------------------- checking

# Entries that only move credits between buckets keep their sum at zero.
MOVING_KINDS = (Kind.ACTIVATE, Kind.DEACTIVATE, Kind.RESERVE, Kind.RELEASE, Kind.USE,
                Kind.EXPIRE, Kind.EXTEND, Kind.REVERSE)


def _differing_rows(table: str, owner: str, source: str) -> str:
    """SQL for the rows of `table` whose counters differ from the sums of their entries."""
    sums = ", ".join(f"SUM(e.d_{b}) AS {b}" for b in BUCKETS)
    have = ", ".join(f"o.{b}" for b in BUCKETS)
    want = ", ".join(f"COALESCE(s.{b}, 0)" for b in BUCKETS)
    # Only table and column names of our own go in: no user input.
    return (f"WITH s AS (SELECT {owner} AS owner, {sums} FROM {source} GROUP BY {owner}) "  # noqa: S608
            f"SELECT o.id, {have}, {want} FROM {table} o LEFT JOIN s ON s.owner = o.id "
            f"WHERE ({have}) IS DISTINCT FROM ({want}) ORDER BY o.id")


ENTRIES, LOTS, BALANCES = (m._meta.db_table for m in (CreditEntry, CreditLot, CreditBalance))
DIFFERENCES = {
    "lot": _differing_rows(LOTS, "e.lot_id", f"{ENTRIES} e"),
    "balance": _differing_rows(BALANCES, "l.balance_id",
                               f"{ENTRIES} e JOIN {LOTS} l ON l.id = e.lot_id"),
}


def derive_differences() -> list[str]:
    """Re-derive every lot's and balance's counters from the entries; describe differences.

    The comparison runs in the database, so only differences come back."""
    problems: list[str] = []
    n = len(BUCKETS)
    with transaction.get_connection().cursor() as cursor:
        for label, sql in DIFFERENCES.items():
            cursor.execute(sql)
            for pk, *values in cursor.fetchall():
                if label == "lot":
                    name = str(CreditLot.objects.select_related(
                        "balance__patient", "balance__package").get(pk=pk).balance)
                else:
                    name = str(CreditBalance.objects.select_related(
                        "patient", "package").get(pk=pk))
                for b, have, want in zip(BUCKETS, values[:n], values[n:], strict=True):
                    if have != want:
                        problems.append(f"{label} {pk} ({name}): {b} is {have}, "
                                        f"entries say {want}")
    total = sum((F(f"d_{b}") for b in BUCKETS[1:]), F(f"d_{BUCKETS[0]}"))
    odd = CreditEntry.objects.alias(total=total).filter(
        (Q(kind__in=MOVING_KINDS) & ~Q(total=0))
        | (Q(kind=Kind.GRANT) & ~Q(total=F("credits")))
        | (Q(kind=Kind.REVOKE) & ~Q(total=-F("credits")))
        | (Q(kind=Kind.ADJUST) & ~Q(total=F("credits")) & ~Q(total=-F("credits")))
    ).order_by("pk")
    for entry in odd:
        problems.append(f"entry {entry.pk} on lot {entry.lot_id}: its deltas do not match a "
                        f"{entry.kind} of {entry.credits} credits")
    return problems


@dataclass(frozen=True)
class CheckResult:
    differences: list[str]
    lots: int
    entries: int

    @property
    def ok(self) -> bool:
        return not self.differences


def check() -> CheckResult:
    """The reconciliation `manage.py check_ledger` and the nightly task run."""
    outermost = not transaction.get_connection().in_atomic_block
    with transaction.atomic():
        if outermost:  # one snapshot for counters, sums and counts
            with transaction.get_connection().cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        return CheckResult(derive_differences(), CreditLot.objects.count(),
                           CreditEntry.objects.count())


def record_check() -> LedgerCheck:
    """Run the check and keep its outcome, so administrators see a notice about differences."""
    result = check()
    return LedgerCheck.objects.create(ok=result.ok, differences=result.differences,
                                      lots=result.lots, entries=result.entries)


def latest_check() -> LedgerCheck | None:
    return LedgerCheck.objects.order_by("-ran_at", "-pk").first()
