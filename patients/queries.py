"""Reads about patients: search as you type, possible duplicates, who may see whom."""

from __future__ import annotations

import datetime
import re
from typing import Any

from django.db.models import CharField, Count, F, Func, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Lower, Now

from scheduling.models import Appointment
from scheduling.queries import visible_patient_filter

from .models import Patient

DATE_FORMATS = ("%d-%m-%Y", "%d/%m/%Y", "%d.%m.%Y", "%Y-%m-%d", "%d-%m-%y")
PHONE_LIKE = re.compile(r"^[\d\s\-+()./]+$")
# Dutch lists sort "de Vries" under V: the surname without its prefixes (tussenvoegsels).
SURNAME_PREFIXES = r"^((van|von|de|der|den|het|ten|ter|te|in|op|la|le|du|'t)\s+)+"


def surname_key() -> Func:
    return Func(Lower("last_name"), Value(SURNAME_PREFIXES), Value(""),
                function="REGEXP_REPLACE", output_field=CharField())


def alphabetical(qs: QuerySet[Patient]) -> QuerySet[Patient]:
    return qs.order_by(surname_key(), Lower("first_name"), "pk")


def parse_date(word: str) -> datetime.date | None:
    for fmt in DATE_FORMATS:
        try:
            return datetime.datetime.strptime(word, fmt).date()
        except ValueError:
            continue
    return None


def search(qs: QuerySet[Patient], term: str) -> QuerySet[Patient]:
    """Every word matches a name, the email, the phone number (ignoring spaces and dashes)
    or the date of birth (12-03-1980, 1980-03-12 or a year)."""
    words = term.split()[:6]
    if any(PHONE_LIKE.match(w) for w in words):
        qs = qs.annotate(phone_digits=Func(
            F("phone"), Value(r"[^0-9]"), Value(""), Value("g"),
            function="REGEXP_REPLACE", output_field=CharField(),
        ))
    for word in words:
        match = (Q(first_name__icontains=word) | Q(last_name__icontains=word)
                 | Q(email__icontains=word) | Q(phone__icontains=word))
        digits = re.sub(r"\D", "", word)
        if PHONE_LIKE.match(word) and len(digits) >= 3:
            match |= Q(phone_digits__contains=digits)
        day = parse_date(word)
        if day is not None:
            match |= Q(date_of_birth=day)
        elif re.fullmatch(r"(19|20)\d\d", word):
            match |= Q(date_of_birth__year=int(word))
        qs = qs.filter(match)
    return qs


def visible_patients(user: Any) -> QuerySet[Patient]:
    return Patient.objects.filter(visible_patient_filter(user))


def with_next_appointment(qs: QuerySet[Patient]) -> QuerySet[Patient]:
    upcoming = Appointment.objects.filter(
        patient=OuterRef("pk"), status=Appointment.Status.BOOKED, start__gte=Now()
    ).order_by("start").values("start")[:1]
    return qs.annotate(next_appointment=Subquery(upcoming))


def possible_duplicates(
    *, first_name: str, last_name: str, date_of_birth: datetime.date | None, email: str,
    exclude_pk: int | None = None,
) -> list[Patient]:
    """Patients with the same name and date of birth, or the same email address."""
    query = Q()
    if date_of_birth and first_name and last_name:
        query |= Q(first_name__iexact=first_name.strip(), last_name__iexact=last_name.strip(),
                   date_of_birth=date_of_birth)
    if email:
        query |= Q(email__iexact=email.strip())
    if not query:
        return []
    found = Patient.objects.filter(query)
    if exclude_pk is not None:
        found = found.exclude(pk=exclude_pk)
    return list(found.order_by("pk")[:5])


def appointment_counts(patient: Patient, now: datetime.datetime) -> tuple[int, int]:
    """How many appointments are upcoming (not yet over) and how many past. One query."""
    upcoming = Q(end__gt=now)
    counts = Appointment.objects.filter(patient=patient).aggregate(
        upcoming=Count("pk", filter=upcoming), past=Count("pk", filter=~upcoming))
    return counts["upcoming"], counts["past"]


def appointment_pages(patient: Patient, now: datetime.datetime, upcoming: range,
                      past: range) -> tuple[list[Appointment], list[Appointment]]:
    """The upcoming appointments soonest first and the past ones newest first, each at the
    given positions of its list (a page), with practitioner and type. One query for both."""
    mine = Appointment.objects.filter(patient=patient).select_related("practitioner", "type")
    parts = [qs[positions.start:positions.stop] for qs, positions in (
        (mine.filter(end__gt=now).order_by("start", "pk"), upcoming),
        (mine.filter(end__lte=now).order_by("-start", "-pk"), past),
    ) if positions]
    rows = list(parts[0].union(*parts[1:], all=True)) if parts else []
    # UNION ALL promises no order: put each list back in its own.
    rows.sort(key=lambda a: (a.start, a.pk))
    return ([a for a in rows if a.end > now],
            [a for a in reversed(rows) if a.end <= now])
