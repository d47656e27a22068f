"""The only write path for appointments and working hours.

Who may do what with an appointment (`allowed_actions`):

| status              | action                 | who                                        |
|---------------------|------------------------|--------------------------------------------|
| booked              | reschedule, cancel     | receptionist, administrator                |
| booked (started)    | attended, no-show      | receptionist, administrator, its practitioner |
| attended / no-show  | the other of the two   | receptionist, administrator, its practitioner |
| attended / no-show  | cancel (a correction)  | administrator                              |
| (late) cancelled    | attended, no-show      | administrator (a correction)               |
| late-cancelled / no-show, credit forfeited | waive (`waive_forfeit`) | administrator    |

From the end of the day after the appointment (`queries.status_deadline`) only an
administrator changes anything; at that moment an appointment nobody marked becomes
attended (`mark_unmarked_attended`, run by Celery beat).
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from typing import Any

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from communication.models import Event
from communication.scheduled import queue_appointment_email
from core import audit
from core.models import AuditEntry
from core.roles import FRONT_DESK, Role, roles_of
from core.services import ConcurrentEditError
from packages import ledger
from packages.ledger_models import CreditEntry, CreditLot
from packages.models import Outcome

from .models import Appointment, AppointmentType, WorkingHours
from .queries import local_midnight, status_deadline

Status = Appointment.Status

MAX_WEEKS = 52
#: the free-cancellation window of types without a package (the usual Dutch 24 hours)
DEFAULT_FREE_CANCEL_HOURS = 24
EXCLUSION_VIOLATION = "23P01"

RESCHEDULE, CANCEL = "reschedule", "cancel"


class AppointmentError(Exception):
    """A booking or change that cannot be made; the message is for the user."""


class AppointmentClash(AppointmentError):
    """The practitioner already has an appointment then."""


class NotAllowed(AppointmentError):
    """This user may not make this change (now)."""


# ── Rules ────────────────────────────────────────────────────────────────────────────────

def allowed_actions(
    appointment: Appointment, user: Any, now: datetime.datetime | None = None
) -> set[str]:
    """What `user` may do with `appointment` now: statuses to set, RESCHEDULE, CANCEL."""
    now = now or timezone.now()
    roles = roles_of(user)
    admin = Role.ADMIN in roles
    front_desk = bool(roles & set(FRONT_DESK))
    own = appointment.practitioner_id == user.pk and Role.PRACTITIONER in roles
    if now >= status_deadline(appointment) and not admin:
        return set()
    started = now >= appointment.start
    actions: set[str] = set()
    if appointment.status == Status.BOOKED:
        if front_desk:
            actions |= {RESCHEDULE, CANCEL}
        if started and (front_desk or own):
            actions |= {Status.ATTENDED, Status.NO_SHOW}
    elif appointment.status in (Status.ATTENDED, Status.NO_SHOW):
        if front_desk or own:
            actions.add(Status.NO_SHOW if appointment.status == Status.ATTENDED
                        else Status.ATTENDED)
        if admin:
            actions.add(CANCEL)
    elif admin and started:
        actions |= {Status.ATTENDED, Status.NO_SHOW}
    return actions


def free_cancel_window(appointment_type: AppointmentType) -> datetime.timedelta:
    package = appointment_type.package
    hours = package.free_cancel_hours if package else DEFAULT_FREE_CANCEL_HOURS
    return datetime.timedelta(hours=hours)


def is_late_cancel(
    appointment: Appointment, cancelled_by: str, now: datetime.datetime | None = None
) -> bool:
    now = now or timezone.now()
    return (cancelled_by == Appointment.CancelledBy.PATIENT
            and now > appointment.start - free_cancel_window(appointment.type))


# ── Messages ─────────────────────────────────────────────────────────────────────────────

def when(start: datetime.datetime, end: datetime.datetime | None = None) -> str:
    start = timezone.localtime(start)
    text = f"{formats.date_format(start, 'l j F Y')} {start:%H:%M}"
    if end is not None:
        text += f"–{timezone.localtime(end):%H:%M}"
    return text


def clash_message(clash: Appointment, series: int = 1) -> str:
    message = _(
        "%(practitioner)s already has an appointment on %(when)s (%(patient)s, %(type)s)."
    ) % {
        "practitioner": clash.practitioner.get_full_name() or clash.practitioner.username,
        "when": when(clash.start, clash.end),
        "patient": clash.patient,
        "type": clash.type,
    }
    if series > 1:
        return message + " " + _("None of the %(count)d appointments has been booked: "
                                 "choose another time or fewer weeks.") % {"count": series}
    return message + " " + _("Choose another time.")


# ── Booking ──────────────────────────────────────────────────────────────────────────────

class InsufficientCreditsError(AppointmentError):
    """The covering lots hold too few credits for this booking or change."""


def _credit_error(exc: ledger.InsufficientCredits, series: int = 1) -> InsufficientCreditsError:
    message = str(exc)
    if series > 1:
        message += " " + _("on %(date)s. None of the %(count)d appointments has been booked.") % {
            "date": formats.date_format(exc.on, "l j F Y"), "count": series}
    return InsufficientCreditsError(message)


def apply_credits(appointments: list[Appointment], *, by: Any) -> None:
    """Reserve each new appointment's credits (DOMAIN.md rule 2). Runs inside the booking's
    transaction, after the appointments are inserted: raising here books none of them."""
    for appointment in appointments:
        kind = appointment.type
        if kind.package_id is None:
            continue
        assert kind.package is not None
        try:
            ledger.reserve(appointment, credits=kind.credits or 0, package=kind.package,
                           key=f"{appointment.idempotency_key}/reserve", by=by)
        except ledger.InsufficientCredits as exc:
            raise _credit_error(exc, len(appointments)) from exc
        except ledger.LedgerError as exc:
            raise AppointmentError(str(exc)) from exc


def _step_key(appointment: Appointment, action: str) -> str:
    """A ledger key per status change: the appointment's own key and how far its history is."""
    n = CreditEntry.objects.filter(appointment=appointment).count()
    return f"{appointment.idempotency_key}/{action}/{n}"


def _lot_policies(appointment: Appointment, field: str) -> set[str]:
    return set(CreditLot.objects.filter(entries__appointment=appointment)
               .values_list(field, flat=True).distinct())


def credits_follow(appointment: Appointment, old: str, *, by: Any, reason: str = "") -> None:
    """Make the appointment's credits follow its new status (DOMAIN.md rule 3).

    From booked this is one ledger step; an administrator's later correction first undoes
    what the old status did (reverse_use, or reserving again) so nothing is consumed twice."""
    new = appointment.status
    kind = appointment.type
    held = sum(ledger.held_by(appointment).values())
    used = sum(CreditEntry.objects.filter(appointment=appointment)
               .values_list("d_used", flat=True))
    if kind.package_id is None and not held and not used:
        return
    reason = reason or _("Status: %(old)s → %(new)s") % {
        "old": Status(old).label, "new": Status(new).label}
    try:
        if new == Status.CANCELLED:
            if held:
                ledger.release(appointment, key=_step_key(appointment, "release"), by=by,
                               reason=reason)
            if used:
                ledger.reverse_use(appointment, key=_step_key(appointment, "reverse"), by=by,
                                   reason=reason)
            return
        if used:
            # Already consumed (attended, or forfeited): keep it unless the new status's
            # policy returns the credits.
            policy = {Status.NO_SHOW: "no_show_outcome",
                      Status.LATE_CANCELLED: "late_cancel_outcome"}.get(Status(new))
            if policy and Outcome.RETURN in _lot_policies(appointment, policy):
                ledger.reverse_use(appointment, key=_step_key(appointment, "reverse"), by=by,
                                   reason=reason)
            return
        if not held:
            if kind.package is None:
                return
            ledger.reserve(appointment, credits=kind.credits or 0, package=kind.package,
                           key=_step_key(appointment, "reserve"), by=by)
        if new == Status.ATTENDED:
            ledger.use(appointment, forfeited=False, key=_step_key(appointment, "use"), by=by)
        elif new == Status.NO_SHOW:
            ledger.settle_no_show(appointment, key=_step_key(appointment, "no-show"), by=by)
        elif new == Status.LATE_CANCELLED:
            ledger.settle_cancellation(appointment, late=True, by=by, reason=reason,
                                       key=_step_key(appointment, "late-cancel"))
    except ledger.InsufficientCredits as exc:
        raise _credit_error(exc) from exc
    except ledger.LedgerError as exc:
        raise AppointmentError(str(exc)) from exc


# ── Waiving a forfeited credit ───────────────────────────────────────────────────────────

WAIVE = "waive"
#: the statuses whose credit a lot's policy may forfeit, and an administrator may waive
FORFEITING = (Status.LATE_CANCELLED, Status.NO_SHOW)


def forfeited_credits(appointment: Appointment) -> int:
    """Credits a late cancellation or no-show of this appointment consumed and nobody has
    given back yet: what an administrator may waive."""
    if appointment.status not in FORFEITING or appointment.pk is None:
        return 0
    return sum(CreditEntry.objects.filter(appointment=appointment)
               .values_list("d_used", flat=True))


def may_waive(appointment: Appointment, user: Any) -> bool:
    return Role.ADMIN in roles_of(user) and forfeited_credits(appointment) > 0


def waiver(appointment: Appointment) -> CreditEntry | None:
    """The waiver that gave this late-cancelled or no-show appointment's credit back, if it
    still stands (a later status change and a new forfeit undo what it shows)."""
    if appointment.status not in FORFEITING or appointment.pk is None:
        return None
    entries = list(CreditEntry.objects.filter(appointment=appointment)
                   .select_related("created_by").order_by("pk"))
    used: int = sum(e.d_used for e in entries)
    if not entries or used:
        return None
    last = next((e for e in reversed(entries) if e.kind == CreditEntry.Kind.USE), None)
    found = [e for e in entries if e.is_waiver and (last is None or e.pk > last.pk)]
    return found[0] if found else None


@transaction.atomic
def waive_forfeit(appointment: Appointment, *, reason: str, by: Any) -> Appointment:
    """An administrator gives back the credit a late cancellation or no-show forfeited
    (DOMAIN.md rule 3), with a reason. The status stays; the credit returns to its lot's
    available credits (on a lot past its expiry it expires at once). A repeat (a double
    click) finds the credit already waived and changes nothing."""
    if Role.ADMIN not in roles_of(by):
        raise NotAllowed(_("Only an administrator can waive a forfeited credit."))
    reason = reason.strip()
    if not reason:
        raise AppointmentError(_("A waiver needs a reason."))
    current = _lock(appointment)
    if current.status not in FORFEITING:
        raise AppointmentError(
            _("Only the credit of a late cancellation or a no-show can be waived."))
    if not forfeited_credits(current):
        if waiver(current) is not None:
            return current  # waived a moment ago (a double click): nothing more to do
        raise AppointmentError(_("This appointment has no forfeited credit to waive."))
    try:
        entries = ledger.reverse_use(current, reason=reason, by=by,
                                     key=_step_key(current, WAIVE))
    except ledger.LedgerError as exc:
        raise AppointmentError(str(exc)) from exc
    credits = sum(e.credits for e in entries if e.kind == CreditEntry.Kind.REVERSE)
    audit.record(current, AuditEntry.Action.UPDATE, {
        "credits": [_("%(n)s forfeited") % {"n": credits}, _("waived")],
        "waiver reason": ["", reason],
    }, by=by)
    return current


def move_credits(appointment: Appointment, *, old_type: AppointmentType,
                 old_start: datetime.datetime, by: Any) -> None:
    """Rescheduling or a change of type moves the reservation; refused (raising, so the
    whole change rolls back) when no lot covers the new date."""
    kind = appointment.type
    if kind.pk == old_type.pk and appointment.start == old_start:
        return
    held = ledger.held_by(appointment)
    try:
        if kind.package is None:
            if held:
                ledger.release(appointment, key=_step_key(appointment, "release"), by=by,
                               reason=_("Changed to a type without a package"))
            return
        ledger.move_reservation(appointment, appointment.start, credits=kind.credits,
                                package=kind.package, key=_step_key(appointment, "move"),
                                by=by)
    except ledger.InsufficientCredits as exc:
        raise _credit_error(exc) from exc
    except ledger.LedgerError as exc:
        raise AppointmentError(str(exc)) from exc


def find_clash(
    practitioner_id: int, spans: Iterable[tuple[datetime.datetime, datetime.datetime]],
    *, exclude_pk: int | None = None,
) -> Appointment | None:
    overlaps = Q()
    for start, end in spans:
        overlaps |= Q(start__lt=end, end__gt=start)
    found = Appointment.objects.filter(
        overlaps, practitioner_id=practitioner_id, status__in=Appointment.ACTIVE)
    if exclude_pk is not None:
        found = found.exclude(pk=exclude_pk)
    return found.select_related("patient", "type", "practitioner").order_by("start").first()


def weekly_starts(start: datetime.datetime, weeks: int) -> list[datetime.datetime]:
    """The same wall-clock time each week, also across a change to or from summer time."""
    local = timezone.localtime(start)
    return [
        timezone.make_aware(datetime.datetime.combine(
            local.date() + datetime.timedelta(weeks=i), local.time().replace(tzinfo=None)))
        for i in range(weeks)
    ]


def _series(key: str) -> list[Appointment]:
    return list(
        Appointment.objects.filter(
            Q(idempotency_key=key) | Q(idempotency_key__startswith=key + ":")
        ).order_by("start")
    )


def _sqlstate(exc: IntegrityError) -> str:
    return str(getattr(exc.__cause__, "sqlstate", "") or "")


def _require_front_desk(user: Any) -> None:
    if not roles_of(user) & set(FRONT_DESK):
        raise NotAllowed(_("Only the front desk and administrators book appointments."))


@transaction.atomic
def book_appointment(
    *, patient: Any, practitioner: User, appointment_type: AppointmentType,
    start: datetime.datetime, note: str = "", weeks: int = 1, idempotency_key: str, by: Any,
) -> list[Appointment]:
    """Book one appointment, or a weekly series of `weeks`: every occurrence or none.

    The same idempotency key again (a double submit) returns what the first made."""
    _require_front_desk(by)
    existing = _series(idempotency_key)
    if existing:
        return existing
    if not appointment_type.is_active:
        raise AppointmentError(_("This appointment type is no longer in use."))
    if not 1 <= weeks <= MAX_WEEKS:
        raise AppointmentError(_("A series has 1 to %(max)s appointments.") % {"max": MAX_WEEKS})
    duration = datetime.timedelta(minutes=appointment_type.duration_minutes)
    starts = weekly_starts(start, weeks)
    spans = [(s, s + duration) for s in starts]
    clash = find_clash(practitioner.pk, spans)
    if clash is not None:
        # The clash may be this very form, submitted twice, committed since we looked.
        existing = _series(idempotency_key)
        if existing:
            return existing
        raise AppointmentClash(clash_message(clash, weeks))
    appointments = [
        Appointment(
            patient=patient, practitioner=practitioner, type=appointment_type,
            start=s, end=e, note=note, created_by=by if getattr(by, "pk", None) else None,
            idempotency_key=idempotency_key if i == 0 else f"{idempotency_key}:{i}",
        )
        for i, (s, e) in enumerate(spans)
    ]
    try:
        with transaction.atomic():
            Appointment.objects.bulk_create(appointments)
    except IntegrityError as exc:
        # Someone else got there first: the same form submitted twice, or another booking
        # of this time that committed while ours waited on the exclusion constraint.
        existing = _series(idempotency_key)
        if existing:
            return existing
        if _sqlstate(exc) == EXCLUSION_VIOLATION:
            clash = find_clash(practitioner.pk, spans)
            if clash is not None:
                raise AppointmentClash(clash_message(clash, weeks)) from exc
        raise
    apply_credits(appointments, by=by)
    for appointment in appointments:
        audit.record(appointment, AuditEntry.Action.CREATE, {
            "patient": ["", str(patient)],
            "practitioner": ["", practitioner.get_full_name() or practitioner.username],
            "type": ["", str(appointment_type)],
            "start": ["", when(appointment.start, appointment.end)],
        }, by=by)
    # A series is confirmed once, by its first appointment (with the credits left after all).
    queue_appointment_email(appointments[0], Event.APPOINTMENT_CONFIRMATION)
    return appointments


def _lock(appointment: Appointment) -> Appointment:
    return (
        Appointment.objects.select_for_update(of=("self",))
        .select_related("type__package", "patient", "practitioner")
        .get(pk=appointment.pk)
    )


def _require(action: str, appointment: Appointment, user: Any, now: datetime.datetime) -> None:
    if action in allowed_actions(appointment, user, now):
        return
    if now >= status_deadline(appointment):
        raise NotAllowed(_("This appointment is closed: only an administrator can change it."))
    raise NotAllowed(_("You cannot make this change to this appointment."))


@transaction.atomic
def reschedule_appointment(
    appointment: Appointment, *, practitioner: User, appointment_type: AppointmentType,
    start: datetime.datetime, note: str, by: Any, seen: str | None = None,
    now: datetime.datetime | None = None,
) -> Appointment:
    """Move an appointment (time, practitioner) or change its type or note."""
    now = now or timezone.now()
    current = _lock(appointment)
    _require(RESCHEDULE, current, by, now)
    if seen is not None and seen != version(current):
        raise ConcurrentEditError(
            _("Someone else changed this appointment after you opened it. Close it and open "
              "it again to see the change.")
        )
    type_changed = appointment_type.pk != current.type_id
    if type_changed and not appointment_type.is_active:
        raise AppointmentError(_("This appointment type is no longer in use."))
    end = start + datetime.timedelta(minutes=appointment_type.duration_minutes)
    clash = find_clash(practitioner.pk, [(start, end)], exclude_pk=current.pk)
    if clash is not None:
        raise AppointmentClash(clash_message(clash))
    before = {
        "practitioner": current.practitioner.get_full_name() or current.practitioner.username,
        "type": str(current.type), "start": when(current.start, current.end),
        "note": current.note,
    }
    old_type, old_start = current.type, current.start
    current.practitioner, current.type = practitioner, appointment_type
    current.start, current.end, current.note = start, end, note
    try:
        with transaction.atomic():
            current.save(update_fields=["practitioner", "type", "start", "end", "note"])
    except IntegrityError as exc:
        clash = find_clash(practitioner.pk, [(start, end)], exclude_pk=current.pk)
        if _sqlstate(exc) == EXCLUSION_VIOLATION and clash is not None:
            raise AppointmentClash(clash_message(clash)) from exc
        raise
    move_credits(current, old_type=old_type, old_start=old_start, by=by)
    after = {
        "practitioner": practitioner.get_full_name() or practitioner.username,
        "type": str(appointment_type), "start": when(start, end), "note": note,
    }
    changes = audit.diff(before, after)
    if changes:
        audit.record(current, AuditEntry.Action.UPDATE, changes, by=by)
    return current


def version(appointment: Appointment) -> str:
    """What a form saw of an appointment, to refuse a change made on stale information."""
    return audit.fingerprint({
        "start": appointment.start.isoformat(), "end": appointment.end.isoformat(),
        "practitioner": str(appointment.practitioner_id), "type": str(appointment.type_id),
        "status": appointment.status, "note": appointment.note,
    })


@transaction.atomic
def cancel_appointment(
    appointment: Appointment, *, cancelled_by: str, reason: str, by: Any,
    now: datetime.datetime | None = None,
) -> Appointment:
    """Cancel; a patient who cancels within the free-cancellation window cancels late."""
    now = now or timezone.now()
    current = _lock(appointment)
    if current.is_cancelled:
        return current  # cancelled twice (a double submit): nothing more to do
    _require(CANCEL, current, by, now)
    if cancelled_by not in Appointment.CancelledBy.values:
        raise AppointmentError(_("Say who cancelled: the patient or the practice."))
    if not reason.strip():
        raise AppointmentError(_("Give a reason for cancelling."))
    late = is_late_cancel(current, cancelled_by, now)
    old = current.status
    current.status = Status.LATE_CANCELLED if late else Status.CANCELLED
    current.cancelled_by, current.cancel_reason = cancelled_by, reason.strip()
    _save_status(current, by=by, now=now, old=old, extra={
        "cancelled_by": ["", str(current.get_cancelled_by_display())],
        "cancel_reason": ["", current.cancel_reason],
    })
    credits_follow(current, old, by=by, reason=current.cancel_reason)
    queue_appointment_email(current, Event.APPOINTMENT_CANCELLED)
    return current


@transaction.atomic
def mark_appointment(
    appointment: Appointment, status: str, *, by: Any, now: datetime.datetime | None = None
) -> Appointment:
    """Mark attended or no-show (or correct one into the other)."""
    now = now or timezone.now()
    if status not in (Status.ATTENDED, Status.NO_SHOW):
        raise AppointmentError(_("Unknown status."))
    current = _lock(appointment)
    if current.status == status:
        return current
    _require(status, current, by, now)
    old = current.status
    current.status = status
    current.cancelled_by, current.cancel_reason = "", ""
    try:
        with transaction.atomic():
            _save_status(current, by=by, now=now, old=old)
            credits_follow(current, old, by=by)
    except IntegrityError as exc:
        # A cancelled appointment marked as having happened takes its time back.
        clash = find_clash(current.practitioner_id, [(current.start, current.end)],
                           exclude_pk=current.pk)
        if _sqlstate(exc) == EXCLUSION_VIOLATION and clash is not None:
            raise AppointmentClash(clash_message(clash)) from exc
        raise
    return current


def _save_status(
    appointment: Appointment, *, by: Any, now: datetime.datetime, old: str,
    extra: dict[str, list[str]] | None = None,
) -> None:
    appointment.status_changed_at = now
    appointment.status_changed_by = by if getattr(by, "pk", None) else None
    appointment.save(update_fields=[
        "status", "cancelled_by", "cancel_reason", "status_changed_at", "status_changed_by",
    ])
    changes = {"status": [str(Status(old).label), str(Status(appointment.status).label)]}
    audit.record(appointment, AuditEntry.Action.UPDATE, changes | (extra or {}), by=by)


def mark_unmarked_attended(*, now: datetime.datetime | None = None, batch: int = 500) -> int:
    """Every booked appointment whose next day has ended becomes attended. Idempotent."""
    now = now or timezone.now()
    cutoff = local_midnight(timezone.localtime(now).date() - datetime.timedelta(days=1))
    done = 0
    while True:
        with transaction.atomic():
            rows = list(
                Appointment.objects.select_for_update(skip_locked=True)
                .filter(status=Status.BOOKED, start__lt=cutoff).order_by("pk")[:batch]
            )
            for appointment in rows:
                appointment.status = Status.ATTENDED
                _save_status(appointment, by=None, now=now, old=Status.BOOKED)
                credits_follow(appointment, Status.BOOKED, by=None)
        done += len(rows)
        if len(rows) < batch:
            return done


# ── Working hours ────────────────────────────────────────────────────────────────────────

Span = tuple[datetime.time, datetime.time]


def hours_text(span: Span | WorkingHours | None) -> str:
    if span is None:
        return ""
    start, end = (span.start, span.end) if isinstance(span, WorkingHours) else span
    return f"{start:%H:%M}–{end:%H:%M}"


def hours_fingerprint(practitioner: User) -> str:
    current = {wh.weekday: wh for wh in WorkingHours.objects.filter(practitioner=practitioner)}
    return audit.fingerprint({str(d): hours_text(current.get(d)) for d in range(7)})


@transaction.atomic
def set_working_hours(
    practitioner: User, hours: dict[int, Span | None], *, by: Any, seen: str | None = None
) -> None:
    """Replace a practitioner's working hours; `hours` maps weekday (0 = Monday) to a span."""
    User.objects.select_for_update().get(pk=practitioner.pk)
    if seen and seen != hours_fingerprint(practitioner):
        raise ConcurrentEditError(
            _("Someone else changed these working hours after you opened the form. "
              "Reload the page to see theirs, then make your changes again.")
        )
    current = {wh.weekday: wh for wh in WorkingHours.objects.filter(practitioner=practitioner)}
    changes: dict[str, list[str]] = {}
    for day in range(7):
        old, new = current.get(day), hours.get(day)
        if hours_text(old) == hours_text(new):
            continue
        changes[f"working hours {WorkingHours.Weekday(day).name.lower()}"] = [
            hours_text(old), hours_text(new)]
        if new is None:
            assert old is not None
            old.delete()
        else:
            WorkingHours.objects.update_or_create(
                practitioner=practitioner, weekday=day,
                defaults={"start": new[0], "end": new[1]},
            )
    if changes:
        audit.record(practitioner, AuditEntry.Action.UPDATE, changes, by=by)
