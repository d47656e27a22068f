from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from django.contrib import messages
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.functional import cached_property
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views import View

from core.roles import (
    FRONT_DESK,
    STAFF_ROLES,
    AdminRequiredMixin,
    Role,
    RoleRequiredMixin,
    has_role,
)
from core.services import ConcurrentEditError
from invoicing.queries import unpaid_appointment_ids
from packages.queries import appointment_credits, credits_left
from patients.models import Patient

from . import grid, services
from .forms import AppointmentForm, BookingForm, CancelForm, WaiveForm, WorkingHoursForm
from .models import Appointment, WorkingHours
from .queries import (
    appointments_between,
    hours_by_practitioner,
    local_midnight,
    practitioners,
    sees_all_patients,
    status_deadline,
    visible_patient_ids,
)

VIEWS = ("day", "week", "all")


def calendar_url(**params: Any) -> str:
    query = {k: v for k, v in params.items() if v not in (None, "", False)}
    return reverse("calendar") + ("?" + urlencode(query) if query else "")


def done(request: HttpRequest, url: str) -> HttpResponse:
    """After a change: HTMX reloads the calendar page, a plain form post redirects."""
    if request.headers.get("HX-Request"):
        response = HttpResponse()
        response["HX-Redirect"] = url
        return response
    return HttpResponseRedirect(url)


def panel(
    request: HttpRequest, template: str, context: dict[str, Any], status: int = 200
) -> HttpResponse:
    """A dialog's content for HTMX, or the same content as a whole page without it."""
    context = {"nav": "calendar", "panel_template": template} | context
    if request.headers.get("HX-Request"):
        return render(request, template, context, status=status)
    return render(request, "scheduling/panel_page.html", context, status=status)


def came_from(request: HttpRequest) -> str:
    """The calendar page a dialog was opened from; only ever a calendar URL of this site,
    since it ends up in links and redirects."""
    nxt = request.POST.get("next") or request.GET.get("next") or ""
    parts = urlsplit(nxt)
    if (url_has_allowed_host_and_scheme(nxt, allowed_hosts=None)
            and not parts.netloc and parts.path == reverse("calendar")):
        return nxt
    return ""


def back_to(request: HttpRequest, day: datetime.date, practitioner: Any = None) -> str:
    """The calendar the user came from, moved to `day`."""
    nxt = came_from(request)
    if nxt:
        query = dict(parse_qsl(urlsplit(nxt).query)) | {"date": day.isoformat()}
        return calendar_url(**query)
    return calendar_url(view="day", date=day.isoformat(),
                        practitioner=getattr(practitioner, "pk", None))


def person_name(user: Any) -> str:
    return str(user.get_full_name() or user.username)


def safe_date(value: str | None) -> datetime.date | None:
    try:
        return parse_date(value or "")
    except ValueError:  # well formed but no such day
        return None


@dataclass(frozen=True)
class Showing:
    """What the calendar shows, as its URL says: view, date, practitioner, the patient being
    booked for, and whether cancelled appointments show."""

    view: str
    day: datetime.date
    practitioner: User | None
    patient: Patient | None
    cancelled: bool

    @classmethod
    def of(cls, request: HttpRequest, people: list[User]) -> Showing:
        me = next((p for p in people if p.pk == request.user.pk), None)
        front_desk = has_role(request.user, *FRONT_DESK)
        view = request.GET.get("view", "")
        if view not in VIEWS:  # a practitioner their own week, the front desk everyone
            view = "week" if me is not None and not front_desk else "all"
        wanted = request.GET.get("practitioner", "")
        chosen = next((p for p in people if str(p.pk) == wanted), None) or me
        patient = None
        if front_desk and request.GET.get("patient", "").isdigit():
            patient = Patient.objects.filter(pk=request.GET["patient"]).first()
        return cls(
            view=view, day=safe_date(request.GET.get("date")) or timezone.localdate(),
            practitioner=chosen or (people[0] if people else None), patient=patient,
            cancelled=request.GET.get("cancelled") == "1",
        )

    def days(self) -> list[datetime.date]:
        if self.view != "week":
            return [self.day]
        monday = self.day - datetime.timedelta(days=self.day.weekday())
        return [monday + datetime.timedelta(days=i) for i in range(7)]

    def url(self, **changes: Any) -> str:
        params = {
            "view": self.view, "date": self.day.isoformat(),
            "practitioner": getattr(self.practitioner, "pk", None) if self.view != "all"
            else None,
            "patient": getattr(self.patient, "pk", None), "cancelled": "1" if self.cancelled
            else None,
        }
        return calendar_url(**(params | changes))

    @cached_property
    def here(self) -> str:
        return self.url()

    def moved(self, steps: int) -> str:
        days = 7 if self.view == "week" else 1
        return self.url(date=(self.day + datetime.timedelta(days=steps * days)).isoformat())

    def book_url(self, day: datetime.date, practitioner: Any, time: str) -> str:
        query = {"practitioner": practitioner.pk, "start": f"{day.isoformat()}T{time}",
                 "next": self.here}
        if self.patient is not None:
            query["patient"] = self.patient.pk
        return reverse("book") + "?" + urlencode(query)

    def heading(self, days: list[datetime.date]) -> str:
        if self.view == "week":
            return _("Week %(week)s · %(first)s – %(last)s") % {
                "week": days[0].isocalendar().week,
                "first": formats.date_format(days[0], "j N"),
                "last": formats.date_format(days[-1], "j N Y"),
            }
        return formats.date_format(days[0], "l j F Y")


class CalendarView(RoleRequiredMixin, View):
    """Day and week view per practitioner, and the day of all practitioners side by side."""

    allowed_roles = STAFF_ROLES

    def get(self, request: HttpRequest) -> HttpResponse:
        people = list(practitioners())
        showing = Showing.of(request, people)
        front_desk = has_role(request.user, *FRONT_DESK)
        days = showing.days()
        if showing.view == "all":
            shown = people
        else:
            shown = [showing.practitioner] if showing.practitioner else []
        appointments = list(appointments_between(
            local_midnight(days[0]), local_midnight(days[-1] + datetime.timedelta(days=1)),
            [p.pk for p in shown], with_cancelled=showing.cancelled,
        ))
        hours = hours_by_practitioner(shown)
        if showing.view == "week":  # the weekend only when someone works or is booked then
            busy = {timezone.localtime(a.start).date() for a in appointments}
            days = [d for d in days if d.weekday() < 5 or d in busy
                    or any(d.weekday() in hours[p.pk] for p in shown)]
        columns = [(d, p) for d in days for p in shown]
        first, last = grid.bounds(columns, hours, appointments)
        return render(request, "scheduling/calendar.html", {
            "nav": "calendar", "title": _("Calendar"), "showing": showing,
            "view": showing.view, "day": showing.day, "chosen": showing.practitioner,
            "patient": showing.patient, "people": people, "front_desk": front_desk,
            "here": showing.here, "heading": showing.heading(days),
            "columns": grid.build(
                columns, hours=hours, appointments=appointments, first=first, last=last,
                now=timezone.now(), book_href=showing.book_url if front_desk else None,
                visible_patients=visible_patient_ids(request.user),
                unpaid=unpaid_appointment_ids([a.pk for a in appointments]),
            ),
            "hour_labels": grid.hour_labels(first, last),
            "rows": (last - first) // grid.SLOT_MINUTES, "first_minute": first,
            "prev_url": showing.moved(-1), "next_url": showing.moved(1),
            "today_url": showing.url(date=None),
            "view_urls": [(key, label, showing.url(view=key)) for key, label in (
                ("day", _("Day")), ("week", _("Week")), ("all", _("All practitioners")))],
            "cancelled_url": showing.url(cancelled=None if showing.cancelled else "1"),
            "stop_url": showing.url(patient=None),
            "book_url": showing.book_url(showing.day, showing.practitioner, "09:00")
            if showing.practitioner else "",
        })


class BookView(RoleRequiredMixin, View):
    """Book by clicking an empty slot: patient, type, start, optional note, weekly series."""

    allowed_roles = FRONT_DESK

    def get(self, request: HttpRequest) -> HttpResponse:
        initial: dict[str, Any] = {"weeks": 1}
        try:
            start = parse_datetime(request.GET.get("start") or "")
        except ValueError:
            start = None
        if start is not None:
            initial |= {"date": start.date(), "time": start.time()}
        if (request.GET.get("practitioner") or "").isdigit():
            initial["practitioner"] = request.GET["practitioner"]
        if (request.GET.get("patient") or "").isdigit():
            initial["patient"] = request.GET["patient"]
        return self.show(request, BookingForm(initial=initial))

    def post(self, request: HttpRequest) -> HttpResponse:
        form = BookingForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                made = services.book_appointment(
                    patient=data["patient"], practitioner=data["practitioner"],
                    appointment_type=data["appointment_type"], start=form.start(),
                    note=data["note"], weeks=data["weeks"],
                    idempotency_key=data["idempotency_key"], by=request.user,
                )
            except services.AppointmentError as exc:
                form.add_error(None, str(exc))
            else:
                first = made[0]
                messages.success(request, ngettext(
                    "Appointment booked for %(patient)s on %(when)s.",
                    "%(count)d weekly appointments booked for %(patient)s, from %(when)s.",
                    len(made),
                ) % {"patient": first.patient, "when": services.when(first.start, first.end),
                     "count": len(made)} + credits_left_message(first))
                return done(request, back_to(
                    request, timezone.localtime(first.start).date(), first.practitioner))
        return self.show(request, form, status=422)

    def show(self, request: HttpRequest, form: BookingForm, status: int = 200) -> HttpResponse:
        return panel(request, "scheduling/_book.html", {
            "form": form, "next": came_from(request),
            "title": _("Book appointment"), "preview": form.credit_preview(),
        }, status=status)


def credits_left_message(appointment: Appointment) -> str:
    package = appointment.type.package
    if package is None:
        return ""
    left = credits_left(appointment.patient, package)
    if not left:
        return " " + _("No credits left in ‘%(package)s’.") % {"package": package.name}
    return " " + ngettext("%(count)d credit left in ‘%(package)s’.",
                          "%(count)d credits left in ‘%(package)s’.", left) % {
        "count": left, "package": package.name}


class BookCreditsView(RoleRequiredMixin, View):
    """The booking dialog's credits line and Book button, as the fields change (HTMX)."""

    allowed_roles = FRONT_DESK

    def get(self, request: HttpRequest) -> HttpResponse:
        form = BookingForm(request.GET)
        return render(request, "scheduling/_book_actions.html", {
            "form": form, "preview": form.credit_preview(), "next": came_from(request)})


def appointment_for(request: HttpRequest, pk: int) -> Appointment:
    """The appointment, if this user may see it; for a practitioner 403 otherwise, whether
    or not it exists."""
    appointment = (
        Appointment.objects.select_related(
            "patient", "type__package", "practitioner", "created_by", "status_changed_by")
        .filter(pk=pk).first()
    )
    if sees_all_patients(request.user):
        if appointment is None:
            raise Http404
        return appointment
    user_id = request.user.pk
    if appointment is None or not (
        appointment.practitioner_id == user_id
        or Appointment.objects.filter(patient_id=appointment.patient_id,
                                      practitioner_id=user_id).exists()
    ):
        raise PermissionDenied
    return appointment


class AppointmentView(RoleRequiredMixin, View):
    allowed_roles = STAFF_ROLES

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        return self.show(request, appointment_for(request, pk))

    @staticmethod
    def show(request: HttpRequest, appointment: Appointment, error: str = "",
             status: int = 200) -> HttpResponse:
        now = timezone.now()
        deadline = status_deadline(appointment)
        return panel(request, "scheduling/_appointment.html", {
            "appointment": appointment, "error": error, "title": str(appointment),
            "actions": services.allowed_actions(appointment, request.user, now),
            "when": services.when(appointment.start, appointment.end),
            "closed": now >= deadline,
            "last_day": timezone.localtime(deadline - datetime.timedelta(days=1)).date(),
            "is_admin": has_role(request.user, Role.ADMIN),
            "next": came_from(request), "credits": appointment_credits(appointment),
            "may_waive": services.may_waive(appointment, request.user),
            "waiver": services.waiver(appointment),
        }, status=status)


class AppointmentEditView(RoleRequiredMixin, View):
    """Reschedule: another time, practitioner or type, or a changed note."""

    allowed_roles = FRONT_DESK

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        appointment = appointment_for(request, pk)
        return self.show(request, appointment, AppointmentForm(appointment=appointment))

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        appointment = appointment_for(request, pk)
        form = AppointmentForm(request.POST, appointment=appointment)
        if form.is_valid():
            data = form.cleaned_data
            try:
                moved = services.reschedule_appointment(
                    appointment, practitioner=data["practitioner"],
                    appointment_type=data["appointment_type"], start=form.start(),
                    note=data["note"], seen=data["version"], by=request.user,
                )
            except (services.AppointmentError, ConcurrentEditError) as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, _("Appointment of %(patient)s moved to %(when)s.") % {
                    "patient": moved.patient, "when": services.when(moved.start, moved.end)})
                return done(request, back_to(
                    request, timezone.localtime(moved.start).date(), moved.practitioner))
        return self.show(request, appointment, form, status=422)

    def show(self, request: HttpRequest, appointment: Appointment, form: AppointmentForm,
             status: int = 200) -> HttpResponse:
        return panel(request, "scheduling/_edit.html", {
            "appointment": appointment, "form": form, "title": str(appointment),
            "next": came_from(request),
        }, status=status)


class AppointmentCancelView(RoleRequiredMixin, View):
    allowed_roles = FRONT_DESK

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        appointment = appointment_for(request, pk)
        return self.show(request, appointment, CancelForm())

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        appointment = appointment_for(request, pk)
        form = CancelForm(request.POST)
        if form.is_valid():
            try:
                cancelled = services.cancel_appointment(
                    appointment, cancelled_by=form.cleaned_data["cancelled_by"],
                    reason=form.cleaned_data["reason"], by=request.user,
                )
            except services.AppointmentError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, _("Appointment of %(patient)s on %(when)s: %(status)s.")
                                 % {"patient": cancelled.patient,
                                    "when": services.when(cancelled.start, cancelled.end),
                                    "status": cancelled.get_status_display().lower()})
                return done(request, back_to(
                    request, timezone.localtime(cancelled.start).date(), cancelled.practitioner))
        return self.show(request, appointment, form, status=422)

    def show(self, request: HttpRequest, appointment: Appointment, form: CancelForm,
             status: int = 200) -> HttpResponse:
        window = services.free_cancel_window(appointment.type)
        return panel(request, "scheduling/_cancel.html", {
            "appointment": appointment, "form": form, "title": str(appointment),
            "when": services.when(appointment.start, appointment.end),
            "late_if_patient": services.is_late_cancel(
                appointment, Appointment.CancelledBy.PATIENT),
            "window_hours": int(window.total_seconds() // 3600),
            "next": came_from(request),
        }, status=status)


class AppointmentWaiveView(AdminRequiredMixin, View):
    """Waive the credit a late cancellation or no-show forfeited, with a reason."""

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        appointment = appointment_for(request, pk)
        return self.show(request, appointment, WaiveForm())

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        appointment = appointment_for(request, pk)
        form = WaiveForm(request.POST)
        if form.is_valid():
            try:
                waived = services.waive_forfeit(
                    appointment, reason=form.cleaned_data["reason"], by=request.user)
            except services.AppointmentError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, _(
                    "The forfeited credit of %(patient)s for %(when)s has been waived.") % {
                    "patient": waived.patient, "when": services.when(waived.start, waived.end)})
                return done(request, back_to(
                    request, timezone.localtime(waived.start).date(), waived.practitioner))
        return self.show(request, appointment, form, status=422)

    def show(self, request: HttpRequest, appointment: Appointment, form: WaiveForm,
             status: int = 200) -> HttpResponse:
        return panel(request, "scheduling/_waive.html", {
            "appointment": appointment, "form": form, "title": str(appointment),
            "when": services.when(appointment.start, appointment.end),
            "credits": appointment_credits(appointment),
            "forfeited": services.forfeited_credits(appointment),
            "next": came_from(request),
        }, status=status)


class AppointmentStatusView(RoleRequiredMixin, View):
    """Mark attended or no-show."""

    allowed_roles = STAFF_ROLES
    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        appointment = appointment_for(request, pk)
        status = request.POST.get("status", "")
        try:
            marked = services.mark_appointment(appointment, status, by=request.user)
        except services.AppointmentError as exc:
            appointment.refresh_from_db()
            return AppointmentView.show(request, appointment, error=str(exc), status=422)
        messages.success(request, _("Appointment of %(patient)s on %(when)s: %(status)s.") % {
            "patient": marked.patient, "when": services.when(marked.start, marked.end),
            "status": marked.get_status_display().lower()})
        return done(request, back_to(
            request, timezone.localtime(marked.start).date(), marked.practitioner))


# ── Settings → Appointments → Working hours ─────────────────────────────────────────────

def hour_people() -> list[User]:
    """Who can have working hours: practitioners and administrators (who may treat)."""
    return list(
        User.objects.filter(is_active=True, groups__name__in=[Role.PRACTITIONER, Role.ADMIN])
        .distinct().order_by("first_name", "last_name", "pk")
    )


class WorkingHoursListView(AdminRequiredMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        people = hour_people()
        hours = hours_by_practitioner(people)
        rows = [(person, [hours[person.pk].get(day) for day in range(7)]) for person in people]
        return render(request, "scheduling/working_hours_list.html", {
            "nav": "working-hours", "title": _("Working hours"), "rows": rows,
            "weekdays": WorkingHours.Weekday.choices,
        })


class WorkingHoursEditView(AdminRequiredMixin, View):
    model = User  # which object the URL's <pk> names (tests/test_roles.py)

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        person = self.person(pk)
        return self.show(request, person, WorkingHoursForm(practitioner=person))

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        person = self.person(pk)
        form = WorkingHoursForm(request.POST, practitioner=person)
        if form.is_valid():
            try:
                services.set_working_hours(person, form.hours(), by=request.user,
                                           seen=form.cleaned_data["seen"])
            except ConcurrentEditError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, _("The working hours of %(name)s have been saved.")
                                 % {"name": person_name(person)})
                return HttpResponseRedirect(reverse("working-hours"))
        return self.show(request, person, form, status=422)

    def person(self, pk: int) -> User:
        return get_object_or_404(
            User.objects.filter(pk__in=[p.pk for p in hour_people()]), pk=pk)

    def show(self, request: HttpRequest, person: User, form: WorkingHoursForm,
             status: int = 200) -> HttpResponse:
        return render(request, "scheduling/working_hours_form.html", {
            "nav": "working-hours", "title": _("Working hours"), "person": person,
            "person_name": person_name(person), "form": form,
        }, status=status)
