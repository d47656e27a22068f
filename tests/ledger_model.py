"""A plain Python model of DOMAIN.md rules 2, 3 and 5 for one patient: what every bucket
of every lot should hold after each booking, cancellation, expiry, …

It imports nothing from the app (only the standard library), so the stateful test compares
the ledger with an independent statement of the rules, not with itself."""

from __future__ import annotations

import calendar
import datetime
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
BUCKETS = ("pending", "available", "reserved", "used", "expired")


@dataclass
class Terms:
    """A package's terms at one moment; a lot keeps a copy."""

    free_cancel_hours: int = 24
    late_cancel: str = "forfeit"  # or "return"
    no_show: str = "forfeit"
    validity: tuple[str, int] | None = None  # ("days" | "months", n)


@dataclass
class Lot:
    id: int
    package: str
    terms: Terms
    expires_on: datetime.date | None = None
    activated: bool = False
    pending: int = 0
    available: int = 0
    reserved: int = 0
    used: int = 0
    expired: int = 0

    def counters(self) -> dict[str, int]:
        return {b: getattr(self, b) for b in BUCKETS}


@dataclass
class Visit:
    package: str
    start: datetime.datetime
    credits: int
    holds: dict[int, int] = field(default_factory=dict)


def plus_months(day: datetime.date, months: int) -> datetime.date:
    y, m = divmod(day.month - 1 + months, 12)
    year, month = day.year + y, m + 1
    return datetime.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def valid_until(start: datetime.date, validity: tuple[str, int] | None) -> datetime.date | None:
    if validity is None:
        return None
    unit, n = validity
    return start + datetime.timedelta(days=n) if unit == "days" else plus_months(start, n)


class Refused(Exception):
    """The rules refuse this change (the ledger must refuse it too)."""


class Model:
    def __init__(self) -> None:
        self.lots: dict[int, Lot] = {}
        self.visits: dict[int, Visit] = {}

    # -- time
    @staticmethod
    def now() -> datetime.datetime:
        return datetime.datetime.now(AMSTERDAM)

    def today(self) -> datetime.date:
        return self.now().date()

    def past_expiry(self, lot: Lot) -> bool:
        return lot.expires_on is not None and lot.expires_on < self.today()

    def covers(self, lot: Lot, start: datetime.datetime) -> bool:
        """Available now, expiring (end of that day) not before the start."""
        bound = max(start.astimezone(AMSTERDAM).date(), self.today())
        return lot.expires_on is None or lot.expires_on >= bound

    # -- reads
    def balance(self, package: str) -> dict[str, int]:
        lots = [lot for lot in self.lots.values() if lot.package == package]
        return {b: sum(getattr(lot, b) for lot in lots) for b in BUCKETS}

    def bookable(self, package: str, start: datetime.datetime) -> int:
        return sum(lot.available for lot in self.lots.values()
                   if lot.package == package and self.covers(lot, start))

    # -- lots
    def add_lot(self, lot_id: int, package: str, terms: Terms, credits: int, *, pending: bool,
                expires_on: datetime.date | None = None) -> None:
        lot = Lot(lot_id, package, Terms(**vars(terms)))
        if pending:
            lot.pending = credits
        else:
            lot.available, lot.activated = credits, True
            lot.expires_on = expires_on or valid_until(self.today(), terms.validity)
        self.lots[lot_id] = lot

    def pay(self, lot: Lot) -> None:
        if lot.pending == 0:  # e.g. a credit note took them all: nothing starts its validity
            return
        if not lot.activated:
            lot.activated = True
            lot.expires_on = valid_until(self.today(), lot.terms.validity)
        lot.available += lot.pending
        lot.pending = 0

    def payment_reversed(self, lot: Lot) -> None:
        lot.pending += lot.available
        lot.available = 0

    def revoke(self, lot: Lot, n: int, *, include_pending: bool) -> None:
        """A credit note: pending credits first (only on an invoice not fully paid), then
        available ones; reserved and used credits are never taken."""
        from_pending = min(n, lot.pending) if include_pending else 0
        if n < 1 or n - from_pending > lot.available:
            raise Refused
        lot.pending -= from_pending
        lot.available -= n - from_pending

    def adjust(self, lot: Lot, change: int) -> None:
        if lot.available + change < 0:
            raise Refused
        lot.available += change

    def extend(self, lot: Lot, new: datetime.date | None) -> None:
        if lot.expires_on is None or (new is not None and new <= lot.expires_on):
            raise Refused
        lot.expires_on = new
        if not self.past_expiry(lot):  # a lapsed lot given more time gets its credits back
            lot.available += lot.expired
            lot.expired = 0

    def expire(self) -> None:
        for lot in self.lots.values():
            if self.past_expiry(lot) and lot.available:
                lot.expired += lot.available
                lot.available = 0

    def give_back(self, lot: Lot, n: int, source: str = "reserved") -> None:
        setattr(lot, source, getattr(lot, source) - n)
        lot.available += n
        if self.past_expiry(lot):  # no credit is available that no booking may use
            lot.expired += lot.available
            lot.available = 0

    # -- visits
    def plan(self, package: str, start: datetime.datetime, needed: int,
             own: dict[int, int]) -> dict[int, int]:
        """Credits per lot from the covering lots that expire first (what `own` holds counts
        as available to it)."""
        pool = [lot for lot in self.lots.values() if lot.package == package
                and self.covers(lot, start) and lot.available + own.get(lot.id, 0) > 0]
        pool.sort(key=lambda lot: (lot.expires_on is None, lot.expires_on or datetime.date.max,
                                   lot.id))
        plan: dict[int, int] = {}
        for lot in pool:
            take = min(needed, lot.available + own.get(lot.id, 0))
            if take:
                plan[lot.id] = take
                needed -= take
        if needed:
            raise Refused
        return plan

    def book(self, visit_id: int, visit: Visit) -> None:
        plan = self.plan(visit.package, visit.start, visit.credits, {})
        for lot_id, n in plan.items():
            self.lots[lot_id].available -= n
            self.lots[lot_id].reserved += n
        visit.holds = plan
        self.visits[visit_id] = visit

    def move(self, visit: Visit, start: datetime.datetime) -> None:
        plan = self.plan(visit.package, start, visit.credits, visit.holds)
        for lot_id in sorted(set(plan) | set(visit.holds)):
            change = plan.get(lot_id, 0) - visit.holds.get(lot_id, 0)
            lot = self.lots[lot_id]
            if change < 0:
                self.give_back(lot, -change)
            elif change > 0:
                lot.available -= change
                lot.reserved += change
        visit.holds, visit.start = plan, start

    def settle(self, visit: Visit, outcome_of_lot: dict[int, str]) -> dict[int, int]:
        """outcome per lot: "return" (released), "use" or "forfeit" (both used); returns
        what became used, per lot."""
        used = {}
        for lot_id, n in visit.holds.items():
            lot = self.lots[lot_id]
            if outcome_of_lot[lot_id] == "return":
                self.give_back(lot, n)
            else:
                lot.reserved -= n
                lot.used += n
                used[lot_id] = n
        visit.holds = {}
        return used

    def cancel(self, visit: Visit, late: bool | None, waived: bool = False) -> dict[int, int]:
        now = self.now()
        outcome = {}
        for lot_id in visit.holds:
            terms = self.lots[lot_id].terms
            is_late = late if late is not None else (
                now > visit.start - datetime.timedelta(hours=terms.free_cancel_hours))
            outcome[lot_id] = terms.late_cancel if is_late and not waived else "return"
        return self.settle(visit, outcome)

    def no_show(self, visit: Visit, waived: bool = False) -> dict[int, int]:
        return self.settle(visit, {lot_id: "return" if waived else self.lots[lot_id].terms.no_show
                            for lot_id in visit.holds})

    def attended(self, visit: Visit) -> dict[int, int]:
        return self.settle(visit, dict.fromkeys(visit.holds, "use"))

    def reverse(self, used: dict[int, int]) -> None:
        for lot_id, n in used.items():
            self.give_back(self.lots[lot_id], n, source="used")
