"""The calendar grid as plain data: columns of 15-minute slots with appointment blocks on
top, positioned in slot units. The template only lays it out."""

from __future__ import annotations

import datetime
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.utils import formats, timezone

from .models import Appointment, WorkingHours

SLOT_MINUTES = 15
DEFAULT_FIRST, DEFAULT_LAST = 8 * 60, 18 * 60
COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")


@dataclass
class Slot:
    minute: int
    label: str
    working: bool
    href: str


@dataclass
class Block:
    appointment: Appointment
    top: str
    span: str
    colour: str
    ink: str
    visible: bool  # may this user see who the patient is?
    unpaid: bool = False  # holds credits of an invoice whose payment was reversed


@dataclass
class Column:
    day: datetime.date
    practitioner: Any
    is_today: bool
    slots: list[Slot] = field(default_factory=list)
    blocks: list[Block] = field(default_factory=list)
    now_top: str | None = None


def units(minutes: float) -> str:
    """A length in slots, as CSS wants it (never localised)."""
    return f"{minutes / SLOT_MINUTES:.4f}"


def colours(value: str) -> tuple[str, str]:
    """The type colour (only ever a #rrggbb value in a style attribute) and a legible ink."""
    colour = value if COLOUR.match(value or "") else "#1f6f8b"
    r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    light = 0.2126 * r + 0.7152 * g + 0.0722 * b > 150
    return colour, "#1d2430" if light else "#ffffff"


def minute_of(moment: datetime.datetime, day: datetime.date) -> int:
    local = timezone.localtime(moment)
    if local.date() < day:
        return 0
    if local.date() > day:
        return 24 * 60
    return local.hour * 60 + local.minute


def bounds(
    columns: list[tuple[datetime.date, Any]], hours: dict[int, dict[int, WorkingHours]],
    appointments: list[Appointment],
) -> tuple[int, int]:
    """The hours the grid shows: 08:00–18:00, widened to all working hours and
    appointments in view, in whole hours."""
    first, last = DEFAULT_FIRST, DEFAULT_LAST
    for day, person in columns:
        span = hours.get(person.pk, {}).get(day.weekday())
        if span is not None:
            first = min(first, span.start.hour * 60 + span.start.minute)
            last = max(last, span.end.hour * 60 + span.end.minute)
    for appointment in appointments:
        day = timezone.localtime(appointment.start).date()
        first = min(first, minute_of(appointment.start, day))
        last = max(last, minute_of(appointment.end, day))
    return first // 60 * 60, min(24 * 60, -(-last // 60) * 60)


def build(
    columns: list[tuple[datetime.date, Any]], *, hours: dict[int, dict[int, WorkingHours]],
    appointments: list[Appointment], first: int, last: int, now: datetime.datetime,
    book_href: Callable[[datetime.date, Any, str], str] | None,
    visible_patients: set[int] | None, unpaid: set[int] | None = None,
) -> list[Column]:
    today = timezone.localtime(now).date()
    by_column: dict[tuple[datetime.date, int], list[Appointment]] = defaultdict(list)
    for appointment in appointments:
        start_day = timezone.localtime(appointment.start).date()
        end_day = timezone.localtime(appointment.end - datetime.timedelta(microseconds=1)).date()
        day = start_day
        while day <= end_day:
            by_column[(day, appointment.practitioner_id)].append(appointment)
            day += datetime.timedelta(days=1)
    result = []
    for day, person in columns:
        column = Column(day=day, practitioner=person, is_today=day == today)
        span = hours.get(person.pk, {}).get(day.weekday())
        for minute in range(first, last, SLOT_MINUTES):
            label = f"{minute // 60:02d}:{minute % 60:02d}"
            moment = datetime.time(minute // 60, minute % 60)
            column.slots.append(Slot(
                minute=minute, label=label, working=bool(span and span.covers(moment)),
                href=book_href(day, person, label) if book_href else "",
            ))
        for appointment in by_column.get((day, person.pk), []):
            top = max(minute_of(appointment.start, day), first)
            bottom = min(minute_of(appointment.end, day), last)
            colour, ink = colours(appointment.type.colour)
            visible = visible_patients is None or appointment.patient_id in visible_patients
            column.blocks.append(Block(
                appointment=appointment, top=units(top - first),
                span=units(max(bottom - top, SLOT_MINUTES)), colour=colour, ink=ink,
                visible=visible,
                # A colleague's patient's payment is theirs to know, like the name.
                unpaid=visible and appointment.pk in (unpaid or set()),
            ))
        if column.is_today:
            local = timezone.localtime(now)
            minute = local.hour * 60 + local.minute
            if first <= minute < last:
                column.now_top = units(minute - first)
        result.append(column)
    return result


def hour_labels(first: int, last: int) -> list[tuple[str, str]]:
    return [(units(m - first), f"{m // 60:02d}:00") for m in range(first, last, 60)]


def day_label(day: datetime.date) -> str:
    return formats.date_format(day, "D j N")
