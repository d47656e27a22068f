"""Reads for the calendar: who treats, when they work, what is planned, who may see what."""

from __future__ import annotations

import datetime
from typing import Any

from django.contrib.auth.models import User
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from core.roles import FRONT_DESK, Role, has_role

from .models import Appointment, WorkingHours


def treats() -> Q:
    """Users with the practitioner role, and administrators who treat (those who have
    working hours)."""
    member = User.groups.through.objects.filter(user=OuterRef("pk"))
    return Q(Exists(member.filter(group__name=Role.PRACTITIONER))) | (
        Q(Exists(member.filter(group__name=Role.ADMIN)))
        & Q(Exists(WorkingHours.objects.filter(practitioner=OuterRef("pk"))))
    )


def practitioners() -> QuerySet[User]:
    return User.objects.filter(treats(), is_active=True).order_by("first_name", "last_name", "pk")


def sees_all_patients(user: Any) -> bool:
    return has_role(user, *FRONT_DESK)


def visible_patient_filter(user: Any) -> Q:
    """Which patients a user may see: the front desk all, a practitioner only those they have
    (or had) an appointment with."""
    if sees_all_patients(user):
        return Q()
    return Q(Exists(Appointment.objects.filter(patient=OuterRef("pk"), practitioner=user.pk)))


def visible_patient_ids(user: Any) -> set[int] | None:
    """None means all; otherwise the patient ids this user may see (one query)."""
    if sees_all_patients(user):
        return None
    return set(
        Appointment.objects.filter(practitioner=user.pk).values_list("patient_id", flat=True)
    )


def hours_by_practitioner(users: list[User]) -> dict[int, dict[int, WorkingHours]]:
    result: dict[int, dict[int, WorkingHours]] = {u.pk: {} for u in users}
    for hours in WorkingHours.objects.filter(practitioner__in=users):
        result[hours.practitioner_id][hours.weekday] = hours
    return result


def appointments_between(
    start: datetime.datetime, end: datetime.datetime, practitioner_ids: list[int],
    *, with_cancelled: bool,
) -> QuerySet[Appointment]:
    qs = Appointment.objects.filter(
        practitioner_id__in=practitioner_ids, start__lt=end, end__gt=start
    ).select_related("patient", "type")
    if not with_cancelled:
        qs = qs.filter(status__in=Appointment.ACTIVE)
    return qs.order_by("start", "pk")


def local_midnight(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


def status_deadline(appointment: Appointment) -> datetime.datetime:
    """The end of the day after the appointment: it is attended from then on unless someone
    marked it, and only an administrator changes its status after that."""
    day = timezone.localtime(appointment.start).date()
    return local_midnight(day + datetime.timedelta(days=2))
