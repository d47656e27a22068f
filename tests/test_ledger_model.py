"""Stateful property test: random sequences of bookings, cancellations (in time, late, by
their window, waived), no-shows, attended visits and their corrections, rescheduling,
imports, sales and payments, adjustments, extensions, expiry and the passing of time, for
one patient in two packages whose terms change along the way.

After every step the ledger must agree with the plain model in tests/ledger_model.py
(every bucket of every lot, every balance, what each appointment holds, what a booking
could still reserve), with the sum of its own entries (derive_differences), and nothing
may be negative. `make test` runs a fixed, derandomized profile; `make stress` more."""

from __future__ import annotations

import datetime
import itertools
import os
from collections.abc import Callable

import pytest
import time_machine
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Sum
from djmoney.money import Money
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from packages import ledger
from packages.ledger_models import CreditBalance, CreditEntry, CreditLot
from packages.models import Package
from patients.models import Patient
from scheduling.models import Appointment, AppointmentType

from .ledger_model import AMSTERDAM, BUCKETS, Model, Refused, Terms, Visit

settings.register_profile(
    "ledger", max_examples=50, stateful_step_count=30, derandomize=True, deadline=None,
    database=None, suppress_health_check=list(HealthCheck), print_blob=False)
settings.register_profile(
    "ledger-stress", max_examples=200, stateful_step_count=50, deadline=None, database=None,
    suppress_health_check=list(HealthCheck))
PROFILE = "ledger-stress" if os.environ.get("FLUX_STRESS") == "1" else "ledger"

START = datetime.datetime(2027, 3, 25, 8, 0, tzinfo=AMSTERDAM)  # summer time begins on the 28th
PACKAGES = st.sampled_from(["fysio", "dieet"])
PICK = st.integers(0, 10_000)
OUTCOMES = st.sampled_from(["forfeit", "return"])
ENDINGS = ["attended", "cancelled in time", "cancelled late", "cancelled by its window",
           "late cancellation waived", "no-show", "no-show waived"]
VALIDITY = st.sampled_from([None, ("days", 10), ("days", 30), ("months", 1), ("months", 2)])


def db_terms(terms: Terms) -> dict[str, object]:
    unit, count = terms.validity or ("none", None)
    return {"free_cancel_hours": terms.free_cancel_hours,
            "late_cancel_outcome": terms.late_cancel, "no_show_outcome": terms.no_show,
            "validity_unit": unit, "validity_count": count}


def accepted(change: Callable[[], object], refusal: type[Exception]) -> bool:
    """Whether a change goes through (True) or is refused with `refusal` (False)."""
    try:
        change()
    except refusal:
        return False
    return True

class LedgerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.atomic = transaction.atomic()  # each example is rolled back at its end
        self.atomic.__enter__()
        self.travel = time_machine.travel(START, tick=False)
        self.clock = self.travel.start()
        self.keys = itertools.count()
        self.model = Model()
        self.patient = Patient.objects.create(first_name="Piet", last_name="Model")
        self.terms = {"fysio": Terms(24, "forfeit", "forfeit", ("months", 2)),
                      "dieet": Terms(48, "return", "forfeit", ("days", 30))}
        self.packages = {
            name: Package.objects.create(name=name.title(), internal_rate=Money(50, "EUR"),
                                         **db_terms(terms))
            for name, terms in self.terms.items()
        }
        self.appointments: dict[int, Appointment] = {}
        self.invoiced: list[int] = []  # lots sold on an invoice
        self.used: dict[int, dict[int, int]] = {}  # appointment → credits it used, per lot

    def teardown(self) -> None:
        try:
            transaction.set_rollback(True)
            self.atomic.__exit__(None, None, None)
        finally:
            self.travel.stop()

    # ------------------------------------------------------------------ helpers
    def key(self) -> str:
        return f"model:{next(self.keys)}"

    def today(self) -> datetime.date:
        return self.model.today()

    def lot(self, pick: int, where=lambda lot: True) -> CreditLot:  # type: ignore[no-untyped-def]
        ids = sorted(i for i, lot in self.model.lots.items() if where(lot))
        return CreditLot.objects.get(pk=ids[pick % len(ids)])

    def booked(self, pick: int) -> tuple[Appointment, Visit]:
        ids = sorted(i for i, visit in self.model.visits.items() if visit.holds)
        pk = ids[pick % len(ids)]
        return self.appointments[pk], self.model.visits[pk]

    def has_booked(self) -> bool:
        return any(visit.holds for visit in self.model.visits.values())

    def new_lot(self, package: str, credits: int, *, pending: bool,
                expires_on: datetime.date | None = None) -> None:
        lot = ledger.grant_lot(
            patient=self.patient, package=self.packages[package], credits=credits,
            value_total=Money(50 * credits, "EUR"), source="invoice" if pending else "import",
            pending=pending, key=self.key(), by=None, expires_on=expires_on)
        self.model.add_lot(lot.pk, package, self.terms[package], credits, pending=pending,
                           expires_on=expires_on)
        if pending:
            self.invoiced.append(lot.pk)

    # ------------------------------------------------------------------ lots
    @initialize(fysio=st.integers(1, 6), dieet=st.integers(0, 4), expiry=st.integers(3, 40))
    def patient_with_credits(self, fysio: int, dieet: int, expiry: int) -> None:
        """Most steps are about credits the patient has: start with some."""
        self.new_lot("fysio", fysio, pending=False,
                     expires_on=self.today() + datetime.timedelta(days=expiry))
        if dieet:
            self.new_lot("dieet", dieet, pending=False)

    @rule(package=PACKAGES, credits=st.integers(1, 4),
          expiry=st.one_of(st.none(), st.integers(-2, 30)))
    def import_credits(self, package: str, credits: int, expiry: int | None) -> None:
        expires_on = None if expiry is None else self.today() + datetime.timedelta(days=expiry)
        self.new_lot(package, credits, pending=False, expires_on=expires_on)

    @rule(package=PACKAGES, credits=st.integers(1, 4))
    def sell_on_invoice(self, package: str, credits: int) -> None:
        self.new_lot(package, credits, pending=True)

    @precondition(lambda self: bool(self.invoiced))
    @rule(pick=PICK, reversed_=st.booleans())
    def invoice_payment(self, pick: int, reversed_: bool) -> None:
        """The invoice is paid (pending → available, validity starts once), or the payment
        is reversed (unused available credits are pending again)."""
        lot = CreditLot.objects.get(pk=self.invoiced[pick % len(self.invoiced)])
        if reversed_:
            ledger.deactivate_lot(lot, key=self.key(), by=None, reason="chargeback")
            self.model.payment_reversed(self.model.lots[lot.pk])
        else:
            ledger.activate_lot(lot, key=self.key(), by=None)
            self.model.pay(self.model.lots[lot.pk])

    @precondition(lambda self: bool(self.model.lots))
    @rule(pick=PICK, credits=st.integers(1, 4), unpaid=st.booleans())
    def credit_note(self, pick: int, credits: int, unpaid: bool) -> None:
        """A credit note revokes credits: on an invoice not fully paid pending ones first."""
        lot = self.lot(pick)
        expected = accepted(lambda: self.model.revoke(
            self.model.lots[lot.pk], credits, include_pending=unpaid), Refused)
        assert accepted(lambda: ledger.revoke(
            lot, credits, key=self.key(), by=None, include_pending=unpaid),
            ledger.LedgerError) == expected

    @precondition(lambda self: bool(self.model.lots))
    @rule(pick=PICK, change=st.integers(-3, 3).filter(bool))
    def adjust(self, pick: int, change: int) -> None:
        lot = self.lot(pick)
        expected = accepted(lambda: self.model.adjust(self.model.lots[lot.pk], change), Refused)
        assert accepted(lambda: ledger.adjust(
            lot, change, reason="correction", key=self.key(), by=None),
            ledger.LedgerError) == expected

    @precondition(lambda self: bool(self.model.lots))
    @rule(pick=PICK, days=st.one_of(st.none(), st.integers(-5, 60)), lapsed=st.booleans())
    def extend(self, pick: int, days: int | None, lapsed: bool) -> None:
        """An administrator extends a lot, often one whose credits have expired already."""
        lapsed = lapsed and any(lot.expired for lot in self.model.lots.values())
        lot = self.lot(pick, lambda lot: lot.expired > 0 or not lapsed)
        new = None if days is None else self.today() + datetime.timedelta(days=days)
        expected = accepted(lambda: self.model.extend(self.model.lots[lot.pk], new), Refused)
        assert accepted(lambda: ledger.extend(
            lot, new, reason="more time", key=self.key(), by=None),
            ledger.LedgerError) == expected

    @rule(hours=st.integers(1, 24 * 8), sweep=st.booleans())
    def time_passes(self, hours: int, sweep: bool) -> None:
        """Time moves on; usually the nightly sweep (beat) has run when a day has passed."""
        before = self.today()
        self.clock.shift(datetime.timedelta(hours=hours))
        if sweep and self.today() != before:
            due = sum(1 for lot in self.model.lots.values()
                      if self.model.past_expiry(lot) and lot.available)
            self.model.expire()
            assert ledger.expire_lots(self.today()) == due

    @rule(package=PACKAGES, hours=st.sampled_from([0, 24, 48]), late=OUTCOMES,
          no_show=OUTCOMES, validity=VALIDITY)
    def package_terms_change(self, package: str, hours: int, late: str, no_show: str,
                             validity: tuple[str, int] | None) -> None:
        """An administrator edits the package: lots already sold keep their terms."""
        self.terms[package] = Terms(hours, late, no_show, validity)
        Package.objects.filter(pk=self.packages[package].pk).update(
            **db_terms(self.terms[package]))
        self.packages[package].refresh_from_db()

    # ------------------------------------------------------------------ appointments
    @rule(package=PACKAGES, credits=st.sampled_from([1, 1, 2]),
          hours=st.integers(-6, 24 * 35), double_submit=st.booleans())
    def book(self, package: str, credits: int, hours: int, double_submit: bool) -> None:
        start = self.model.now() + datetime.timedelta(hours=hours)
        kind, _created = AppointmentType.objects.get_or_create(
            name=f"{package} {credits}", package=self.packages[package],
            defaults={"credits": credits})
        # One practitioner per visit: the calendar's no-overlap rule is not under test here.
        therapist = User.objects.create(username=f"model-fysio-{self.key()}")
        appointment = Appointment.objects.create(
            patient=self.patient, practitioner=therapist, type=kind, start=start,
            end=start + datetime.timedelta(minutes=30), idempotency_key=self.key())
        visit = Visit(package, start, credits)
        expected = accepted(lambda: self.model.book(appointment.pk, visit), Refused)
        key = self.key()
        try:
            first = ledger.reserve(appointment, credits=credits, package=self.packages[package],
                                   key=key, by=None)
            done = True
        except ledger.InsufficientCredits:
            done = False
        assert done == expected
        if done:
            self.appointments[appointment.pk] = appointment
            if double_submit:  # the same form posted twice: one reservation
                assert ledger.reserve(appointment, credits=credits, key=key, by=None,
                                      package=self.packages[package]) == first

    @precondition(has_booked)
    @rule(pick=PICK, hours=st.integers(-6, 24 * 35))
    def reschedule(self, pick: int, hours: int) -> None:
        appointment, visit = self.booked(pick)
        start = self.model.now() + datetime.timedelta(hours=hours)
        expected = accepted(lambda: self.model.move(visit, start), Refused)
        done = accepted(lambda: ledger.move_reservation(
            appointment, start, key=self.key(), by=None), ledger.InsufficientCredits)
        assert done == expected
        if done:
            end = start + datetime.timedelta(minutes=30)
            Appointment.objects.filter(pk=appointment.pk).update(start=start, end=end)
            appointment.start, appointment.end = start, end

    @precondition(has_booked)
    @rule(pick=PICK, how=st.sampled_from(ENDINGS))
    def visit_ends(self, pick: int, how: str) -> None:
        appointment, visit = self.booked(pick)
        key, waived = self.key(), how.endswith("waived")
        reason = "waived" if waived else ""
        if how == "attended":
            used = self.model.attended(visit)
            ledger.use(appointment, forfeited=False, key=key, by=None)
        elif how.startswith("no-show"):
            used = self.model.no_show(visit, waived)
            ledger.settle_no_show(appointment, waived=waived, reason=reason, key=key, by=None)
        else:
            late = {"cancelled in time": False, "cancelled by its window": None}.get(how, True)
            used = self.model.cancel(visit, late, waived)
            ledger.settle_cancellation(appointment, late=late, waived=waived, reason=reason,
                                       key=key, by=None)
        if used:
            self.used[appointment.pk] = used

    @precondition(lambda self: bool(self.used))
    @rule(pick=PICK)
    def correction_of_a_settled_visit(self, pick: int) -> None:
        pk = sorted(self.used)[pick % len(self.used)]
        self.model.reverse(self.used.pop(pk))
        ledger.reverse_use(self.appointments[pk], reason="marked wrongly", key=self.key(),
                           by=None)

    # ------------------------------------------------------------------ the checks
    @invariant()
    def ledger_agrees_with_the_model_with_its_entries_and_with_zero(self) -> None:
        zero = dict.fromkeys(BUCKETS, 0)
        balances = {b.package_id: b.counters()
                    for b in CreditBalance.objects.filter(patient=self.patient)}
        lots = {lot.pk: (lot.counters(), lot.expires_on)
                for lot in CreditLot.objects.filter(balance__patient=self.patient)}
        for name, package in self.packages.items():
            assert balances.get(package.pk, zero) == self.model.balance(name), name
            for days in (1, -1):  # booking tomorrow; registering yesterday's visit today
                moment = self.model.now() + datetime.timedelta(days=days)
                assert (ledger.available_for(self.patient, package, moment)
                        == self.model.bookable(name, moment)), (name, days)
        assert lots == {i: (lot.counters(), lot.expires_on)
                        for i, lot in self.model.lots.items()}
        held: dict[int, dict[int, int]] = {}
        for row in CreditEntry.objects.filter(appointment__isnull=False).values(
                "appointment_id", "lot_id").annotate(n=Sum("d_reserved")).filter(n__gt=0):
            held.setdefault(row["appointment_id"], {})[row["lot_id"]] = row["n"]
        assert held == {pk: visit.holds for pk, visit in self.model.visits.items()
                        if visit.holds}
        # The counters equal the sum of the entries, and none is below zero.
        assert ledger.derive_differences() == []
        counts = [*balances.values(), *(c for c, _expiry in lots.values())]
        assert all(n >= 0 for row in counts for n in row.values())


@pytest.mark.django_db
def test_the_ledger_keeps_the_rules_in_any_order() -> None:
    run_state_machine_as_test(LedgerMachine, settings=settings.get_profile(PROFILE))
