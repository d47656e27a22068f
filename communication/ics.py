"""An .ics (RFC 5545) for an appointment, to attach to confirmations and reminders."""

from __future__ import annotations

import datetime
from typing import Any

from .attachments import Attachment


def _escape(text: str) -> str:
    text = text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    return text.replace("\r\n", "\\n").replace("\n", "\\n")


def _fold(line: str) -> str:
    """Lines of at most 75 octets, continued with a space (RFC 5545 3.1)."""
    out, current = [], b""
    for char in line:
        encoded = char.encode()
        if len(current) + len(encoded) > 75:
            out.append(current.decode())
            current = b" "
        current += encoded
    out.append(current.decode())
    return "\r\n".join(out)


def _utc(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")


def appointment_ics(
    *, uid: str, start: datetime.datetime, end: datetime.datetime, summary: str,
    location: str = "", description: str = "", cancelled: bool = False,
) -> bytes:
    lines = [
        "BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Flux packages//NL",
        "METHOD:CANCEL" if cancelled else "METHOD:PUBLISH",
        "BEGIN:VEVENT", f"UID:{_escape(uid)}",
        f"DTSTAMP:{_utc(datetime.datetime.now(datetime.UTC))}",
        f"DTSTART:{_utc(start)}", f"DTEND:{_utc(end)}", f"SUMMARY:{_escape(summary)}",
    ]
    if location:
        lines.append(f"LOCATION:{_escape(location)}")
    if description:
        lines.append(f"DESCRIPTION:{_escape(description)}")
    lines += ["STATUS:CANCELLED" if cancelled else "STATUS:CONFIRMED", "END:VEVENT",
              "END:VCALENDAR"]
    return ("\r\n".join(_fold(line) for line in lines) + "\r\n").encode()


def appointment_attachment(filename: str = "afspraak.ics", **kwargs: Any) -> Attachment:
    return Attachment.data(filename, appointment_ics(**kwargs), "text/calendar")
