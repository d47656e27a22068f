from django.urls import URLPattern, URLResolver, include, path
from django.utils.translation import gettext_lazy as _

from .views import (
    HistoryView,
    HomeView,
    PracticeCrud,
    SettingsHomeView,
    UserCrud,
    not_built,
    practice_logo,
)

# Screens that later issues build; until then they say so.
planned_settings = [
    not_built("invoices/packages/", "packages-list", "packages", _("Packages"), settings=True),
    not_built("invoices/products/", "products-list", "products", _("Products"), settings=True),
    not_built("invoices/accounts/", "accounts-list", "accounts", _("Chart of accounts"),
              settings=True),
    not_built("appointments/standard/", "appointment-types-list", "standard",
              _("Standard appointments"), settings=True),
    not_built("communication/email-templates/", "email-templates", "email-templates",
              _("Email templates"), settings=True),
    not_built("communication/sent-emails/", "sent-emails", "sent-emails", _("Sent emails"),
              settings=True),
]

settings_urls: list[URLPattern | URLResolver] = [
    path("", SettingsHomeView.as_view(), name="settings"),
    path("practice/", include(PracticeCrud().urls())),
    path("users/", include(UserCrud().urls())),
    path("history/<str:label>/<str:pk>/", HistoryView.as_view(), name="history"),
    *planned_settings,
]

urlpatterns = [
    path("", HomeView.as_view(), name="home"),
    path("practice/logo/", practice_logo, name="practice-logo"),
    not_built("calendar/", "calendar", "calendar", _("Calendar"), settings=False),
    not_built("patients/", "patients", "patients", _("Patients"), settings=False),
    path("invoices/", include("invoicing.invoice_urls")),
    path("settings/", include(settings_urls)),
]
