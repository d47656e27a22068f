"""Rules 2, 3 and 5 at the ledger level: which lots a booking draws on, what cancellations,
no-shows and rescheduling do with the credits, and how expiry treats late returns."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.utils import timezone, translation

from packages import ledger
from packages.ledger_models import CreditEntry
from packages.models import Package

from . import ledger_helpers as h

pytestmark = pytest.mark.django_db

TODAY = datetime.date(2027, 3, 10)


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(h.at(TODAY, 9), tick=False) as traveller:
        yield traveller


def days(n: int) -> datetime.date:
    return TODAY + datetime.timedelta(days=n)


def test_booking_reserves_from_the_lot_that_expires_first_not_the_oldest() -> None:
    pkg, pat = h.package(), h.patient()
    late = h.lot(pat, pkg, 2, expires_on=days(300))
    soon = h.lot(pat, pkg, 2, expires_on=days(30))
    forever = h.lot(pat, pkg, 2)
    ledger.reserve(h.appointment(pat, pkg, h.at(days(5)), credits=3), credits=3, package=pkg,
                   key="b1", by=None)
    assert (h.fresh(soon)["reserved"], h.fresh(late)["reserved"],
            h.fresh(forever)["reserved"]) == (2, 1, 0)
    # After the short lot's expiry only the later ones cover the date.
    ledger.reserve(h.appointment(pat, pkg, h.at(days(40))), credits=1, package=pkg,
                   key="b2", by=None)
    assert (h.fresh(late)["reserved"], h.fresh(forever)["reserved"]) == (2, 0)


def test_a_lot_expires_at_the_end_of_its_day_in_amsterdam() -> None:
    pkg, pat = h.package(), h.patient()
    h.lot(pat, pkg, 1, expires_on=days(5))
    last_evening = datetime.datetime.combine(days(5), datetime.time(23, 45),
                                             tzinfo=ledger.AMSTERDAM)
    # 23:45 in Amsterdam is 22:45 UTC: still the expiry day; 00:05 is the next day.
    assert ledger.available_for(pat, pkg, last_evening) == 1
    assert ledger.available_for(pat, pkg, last_evening + datetime.timedelta(minutes=20)) == 0


def test_a_lot_past_its_expiry_covers_nothing_even_before_the_sweep(clock) -> None:
    pkg, pat = h.package(), h.patient()
    h.lot(pat, pkg, 2, expires_on=days(1))
    visit = h.appointment(pat, pkg, h.at(days(1)))  # booked afterwards, on the expiry day
    clock.move_to(h.at(days(2), 9))
    assert h.counters(pat, pkg)["available"] == 2  # the nightly sweep has not run yet
    assert ledger.available_for(pat, pkg, visit.start) == 0
    with pytest.raises(ledger.InsufficientCredits):
        ledger.reserve(visit, credits=1, package=pkg, key="after-expiry", by=None)


def test_credits_returned_to_an_expired_lot_expire_at_once_and_sweeps_run_again(clock) -> None:
    pkg, pat = h.package(), h.patient()
    lot = h.lot(pat, pkg, 3, expires_on=days(4))
    visit = h.appointment(pat, pkg, h.at(days(4)))
    ledger.reserve(visit, credits=1, package=pkg, key="r", by=None)
    clock.move_to(h.at(days(5), 9))
    assert ledger.expire_lots(days(5)) == 1
    assert h.fresh(lot) | {"expired": 2} == h.fresh(lot)
    ledger.release(visit, key="cancel", by=None)  # reserved credits stayed with the visit
    assert h.fresh(lot) == {"pending": 0, "available": 0, "reserved": 0, "used": 0,
                            "expired": 3}
    # A correction that adds credits to the expired lot: the next sweep expires them too,
    # under a key of its own (the sweep's key once named only the lot and its expiry).
    ledger.adjust(lot, 1, reason="counted wrong", key="adj", by=None)
    assert ledger.expire_lots(days(5)) == 1
    assert ledger.expire_lots(days(5)) == 0
    assert h.fresh(lot)["expired"] == 4
    assert ledger.derive_differences() == []


def test_extending_a_lapsed_lot_gives_its_expired_credits_back(clock) -> None:
    pkg, pat = h.package(), h.patient()
    lot = h.lot(pat, pkg, 3, expires_on=days(1))
    clock.move_to(h.at(days(3), 9))
    ledger.expire_lots(days(3))
    ledger.extend(lot, days(2), reason="still in the past", key="x1", by=None)
    assert h.fresh(lot)["expired"] == 3
    entry = ledger.extend(lot, days(60), reason="ill for a month", key="x2", by=None)
    assert entry.credits == 3 and h.fresh(lot)["available"] == 3
    assert ledger.available_for(pat, pkg, h.at(days(30))) == 3
    for earlier_or_same in (days(59), days(60)):
        with pytest.raises(ledger.LedgerError):
            ledger.extend(lot, earlier_or_same, reason="not later", key="x3", by=None)
    assert ledger.derive_differences() == []


# ---------------------------------------------------------------------------- rule 3

def two_policy_appointment() -> tuple[Package, h.Appointment, h.CreditLot, h.CreditLot]:
    """An appointment holding one credit from a forfeiting lot and one from a returning lot
    (the package's policy changed between the two sales; lots keep their own)."""
    pkg, pat = h.package(late_cancel_outcome="forfeit", no_show_outcome="forfeit",
                         free_cancel_hours=24), h.patient()
    strict = h.lot(pat, pkg, 1, expires_on=days(20))
    Package.objects.filter(pk=pkg.pk).update(late_cancel_outcome="return",
                                             no_show_outcome="return", free_cancel_hours=48)
    pkg.refresh_from_db()
    lenient = h.lot(pat, pkg, 1, expires_on=days(30))
    visit = h.appointment(pat, pkg, h.at(days(10)), credits=2)
    ledger.reserve(visit, credits=2, package=pkg, key="two", by=None)
    return pkg, visit, strict, lenient


def test_late_cancellation_follows_each_lots_own_policy() -> None:
    _pkg, visit, strict, lenient = two_policy_appointment()
    entries = ledger.settle_cancellation(visit, late=True, key="late", by=None)
    assert sorted((e.kind, e.forfeited) for e in entries) == [("release", False),
                                                              ("use", True)]
    assert (h.fresh(strict)["used"], h.fresh(lenient)["available"]) == (1, 1)
    assert ledger.settle_cancellation(visit, late=True, key="late", by=None) == entries


def test_lateness_is_measured_against_each_lots_free_cancellation_window(clock) -> None:
    _pkg, visit, strict, lenient = two_policy_appointment()
    clock.move_to(visit.start - datetime.timedelta(hours=30))  # inside 48 h, outside 24 h
    ledger.settle_cancellation(visit, key="c", by=None)
    # The strict lot (24 h window) is in time: released; the lenient one (48 h) is late,
    # but its policy returns the credit anyway.
    assert (h.fresh(strict)["available"], h.fresh(lenient)["available"]) == (1, 1)


def test_cancelling_in_time_or_by_the_practice_releases(clock) -> None:
    _pkg, visit, strict, lenient = two_policy_appointment()
    clock.move_to(visit.start - datetime.timedelta(hours=1))
    ledger.settle_cancellation(visit, late=False, key="practice", by=None)
    assert (h.fresh(strict)["available"], h.fresh(lenient)["available"]) == (1, 1)


def test_no_show_follows_policy_and_an_administrator_may_waive() -> None:
    _pkg, visit, strict, lenient = two_policy_appointment()
    with pytest.raises(ledger.LedgerError, match="Geef een reden"):
        ledger.settle_no_show(visit, waived=True, key="w", by=None)
    ledger.settle_no_show(visit, key="ns", by=None)
    assert (h.fresh(strict)["used"], h.fresh(lenient)["available"]) == (1, 1)
    # Waived afterwards by an administrator: the forfeited credit goes back.
    ledger.reverse_use(visit, reason="patient was in hospital", key="undo", by=None)
    assert h.fresh(strict)["available"] == 1
    assert ledger.derive_differences() == []


def test_waived_late_cancellation_releases_everything() -> None:
    _pkg, visit, strict, lenient = two_policy_appointment()
    ledger.settle_cancellation(visit, late=True, waived=True, reason="storm", key="w", by=None)
    assert (h.fresh(strict)["available"], h.fresh(lenient)["available"]) == (1, 1)


def test_attended_then_nothing_is_consumed_twice() -> None:
    _pkg, visit, strict, lenient = two_policy_appointment()
    ledger.use(visit, forfeited=False, key="att", by=None)
    assert ledger.settle_no_show(visit, key="ns-after", by=None) == []
    assert ledger.release(visit, key="rel-after", by=None) == []
    assert (h.fresh(strict)["used"], h.fresh(lenient)["used"]) == (1, 1)


def test_rescheduling_keeps_a_lot_that_still_covers_and_moves_off_one_that_does_not() -> None:
    pkg, pat = h.package(), h.patient()
    short = h.lot(pat, pkg, 1, expires_on=days(10))
    long = h.lot(pat, pkg, 1, expires_on=days(90))
    visit = h.appointment(pat, pkg, h.at(days(5)))
    ledger.reserve(visit, credits=1, package=pkg, key="r", by=None)
    assert ledger.move_reservation(visit, h.at(days(8)), key="m1", by=None) == []
    moved = ledger.move_reservation(visit, h.at(days(40)), key="m2", by=None)
    assert [(e.kind, e.lot_id) for e in moved] == [("release", short.pk), ("reserve", long.pk)]
    assert ledger.move_reservation(visit, h.at(days(40)), key="m2", by=None) == moved
    # Back to an early date: the lot expiring first is preferred again.
    ledger.move_reservation(visit, h.at(days(6)), key="m3", by=None)
    assert (h.fresh(short)["reserved"], h.fresh(long)["reserved"]) == (1, 0)
    assert ledger.derive_differences() == []


def test_rescheduling_is_refused_when_no_lot_covers_the_new_date_and_changes_nothing() -> None:
    pkg, pat = h.package(), h.patient()
    lot = h.lot(pat, pkg, 2, expires_on=days(10))
    visit = h.appointment(pat, pkg, h.at(days(5)))
    ledger.reserve(visit, credits=1, package=pkg, key="r", by=None)
    before = (h.fresh(lot), CreditEntry.objects.count())
    with pytest.raises(ledger.InsufficientCredits) as refused:
        ledger.move_reservation(visit, h.at(days(11)), key="m", by=None)
    assert refused.value.available == 0 and refused.value.on == days(11)
    assert (h.fresh(lot), CreditEntry.objects.count()) == before
    assert ledger.held_by(visit) == {lot.pk: 1}


def test_a_change_of_type_moves_to_other_credits_or_another_package() -> None:
    pkg, other, pat = h.package(), h.package("Dieet 5×"), h.patient()
    lot = h.lot(pat, pkg, 3)
    diet = h.lot(pat, other, 1)
    visit = h.appointment(pat, pkg, h.at(days(5)))
    ledger.reserve(visit, credits=1, package=pkg, key="r", by=None)
    ledger.move_reservation(visit, visit.start, credits=2, key="longer", by=None)
    assert h.fresh(lot)["reserved"] == 2
    with pytest.raises(ledger.InsufficientCredits):
        ledger.move_reservation(visit, visit.start, credits=2, package=other, key="d", by=None)
    ledger.move_reservation(visit, visit.start, credits=1, package=other, key="diet", by=None)
    assert (h.fresh(lot)["available"], h.fresh(diet)["reserved"]) == (3, 1)
    assert ledger.derive_differences() == []


def test_one_appointment_never_reserves_twice() -> None:
    pkg, pat = h.package(), h.patient()
    h.lot(pat, pkg, 3)
    visit, other = h.appointment(pat, pkg), h.appointment(pat, pkg)
    first = ledger.reserve(visit, credits=1, package=pkg, key="k", by=None)
    assert ledger.reserve(visit, credits=1, package=pkg, key="k", by=None) == first
    with pytest.raises(ledger.LedgerError, match="al credits gereserveerd"):
        ledger.reserve(visit, credits=1, package=pkg, key="k-other", by=None)
    with pytest.raises(ledger.LedgerError, match="andere wijziging"):
        ledger.reserve(other, credits=1, package=pkg, key="k", by=None)
    assert h.counters(pat, pkg)["reserved"] == 1


def test_expiry_sweep_is_idempotent_and_leaves_reservations() -> None:
    pkg, pat, pat2 = h.package(), h.patient(), h.patient("Anna")
    a = h.lot(pat, pkg, 2, expires_on=days(-1))
    b = h.lot(pat2, pkg, 2, expires_on=days(-2))
    h.lot(pat2, pkg, 2, expires_on=days(0))  # expires at the end of today: not yet
    assert ledger.expire_lots(TODAY) == 2
    assert ledger.expire_lots(TODAY) == 0
    assert (h.fresh(a)["expired"], h.fresh(b)["expired"]) == (2, 2)
    assert timezone.localdate() == TODAY


def test_the_refusal_reads_as_the_issue_says_in_dutch() -> None:
    pkg, pat = h.package(), h.patient()
    with translation.override("nl"), pytest.raises(ledger.InsufficientCredits) as refused:
        ledger.reserve(h.appointment(pat, pkg), credits=1, package=pkg, key="none", by=None)
    assert str(refused.value) == "Onvoldoende credits: 0 beschikbaar in ‘Fysio 10×’, 1 nodig"


def pending_lot(pat, pkg, credits: int):  # type: ignore[no-untyped-def]
    from djmoney.money import Money

    return ledger.grant_lot(patient=pat, package=pkg, credits=credits,
                            value_total=Money(100 * credits, "EUR"), source="invoice",
                            pending=True, key=f"sold:{pat.pk}:{credits}", by=None)


def test_revoking_pending_credits_takes_them_out_of_the_lot_before_payment() -> None:
    pkg, pat = h.package(), h.patient()
    lot = pending_lot(pat, pkg, 10)
    # Without include_pending (a paid invoice) pending credits cannot be revoked.
    with pytest.raises(ledger.LedgerError):
        ledger.revoke(lot, 1, key="cn0", by=None)
    entry = ledger.revoke(lot, 3, key="cn1", by=None, include_pending=True)
    assert (entry.kind, entry.credits, entry.d_pending, entry.d_available) == ("revoke", 3, -3, 0)
    assert ledger.revoke(lot, 3, key="cn1", by=None, include_pending=True) == entry  # replay
    assert h.fresh(lot)["pending"] == 7
    with pytest.raises(ledger.LedgerError, match="7"):
        ledger.revoke(lot, 8, key="cn2", by=None, include_pending=True)
    # Paid later: only what is left becomes available.
    assert ledger.activate_lot(lot, key="paid", by=None).credits == 7  # type: ignore[union-attr]
    assert h.fresh(lot) == {"pending": 0, "available": 7, "reserved": 0, "used": 0, "expired": 0}
    assert ledger.derive_differences() == []


def test_revoking_with_pending_takes_pending_first_then_available_never_reserved() -> None:
    pkg, pat = h.package(), h.patient()
    lot = pending_lot(pat, pkg, 5)
    ledger.activate_lot(lot, key="paid", by=None)
    visits = [h.appointment(pat, pkg) for _ in range(2)]
    for i, visit in enumerate(visits):
        ledger.reserve(visit, credits=1, package=pkg, key=f"b{i}", by=None)
    ledger.deactivate_lot(lot, key="unpaid", by=None, reason="chargeback")
    ledger.release(visits[0], key="r", by=None)  # back to available on an unpaid invoice
    assert h.fresh(lot) == {"pending": 3, "available": 1, "reserved": 1, "used": 0, "expired": 0}
    # A booking cannot use pending credits: only the one available credit.
    assert ledger.available_for(pat, pkg) == 1
    with pytest.raises(ledger.LedgerError, match="4"):
        ledger.revoke(lot, 5, key="cn", by=None, include_pending=True)
    entry = ledger.revoke(lot, 4, key="cn", by=None, include_pending=True)
    assert (entry.d_pending, entry.d_available, entry.d_reserved) == (-3, -1, 0)
    assert h.fresh(lot) == {"pending": 0, "available": 0, "reserved": 1, "used": 0, "expired": 0}
    assert ledger.derive_differences() == []
