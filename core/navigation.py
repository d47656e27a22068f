"""The left menu and the Settings menu (UX.md), as data the templates walk."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from .roles import FRONT_DESK

# (key, label, URL name); the key is what a view sets as `nav` to highlight its entry.
MAIN_MENU = [
    ("calendar", _("Calendar"), "calendar"),
    ("patients", _("Patients"), "patients"),
    ("invoices", _("Invoices"), "invoices"),
]

# Entries only some roles see (their screens answer 403 to the others).
MENU_ROLES = {"invoices": FRONT_DESK}

SETTINGS_MENU = [
    (_("Invoices"), [
        ("packages", _("Packages"), "packages-list"),
        ("products", _("Products"), "products-list"),
        ("accounts", _("Chart of accounts"), "accounts-list"),
    ]),
    (_("Appointments"), [
        ("standard", _("Standard appointments"), "appointment-types-list"),
        ("working-hours", _("Working hours"), "working-hours"),
    ]),
    (_("Communication"), [
        ("email-templates", _("Email templates"), "email-templates"),
        ("sent-emails", _("Sent emails"), "sent-emails"),
    ]),
    (_("Practice"), [
        ("practice", _("Practice"), "practice-edit"),
        ("users", _("Users"), "users-list"),
    ]),
]
