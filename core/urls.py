from django.urls import URLPattern, URLResolver, include, path

from communication.urls import settings_urlpatterns as communication_settings
from invoicing.views import AccountCrud, ProductCrud
from packages.views import PackageCrud
from scheduling.type_screens import AppointmentTypeCrud
from scheduling.urls import settings_urlpatterns as scheduling_settings

from .views import (
    HistoryView,
    HomeView,
    PracticeCrud,
    SettingsHomeView,
    UserCrud,
    practice_logo,
)

settings_urls: list[URLPattern | URLResolver] = [
    path("", SettingsHomeView.as_view(), name="settings"),
    path("practice/", include(PracticeCrud().urls())),
    path("users/", include(UserCrud().urls())),
    path("invoices/packages/", include(PackageCrud().urls())),
    path("invoices/products/", include(ProductCrud().urls())),
    path("invoices/accounts/", include(AccountCrud().urls())),
    path("appointments/standard/", include(AppointmentTypeCrud().urls())),
    path("history/<str:label>/<str:pk>/", HistoryView.as_view(), name="history"),
    path("communication/", include(communication_settings)),
    path("appointments/", include(scheduling_settings)),
]

urlpatterns = [
    path("", HomeView.as_view(), name="home"),
    path("practice/logo/", practice_logo, name="practice-logo"),
    path("calendar/", include("scheduling.urls")),
    path("patients/", include("patients.urls")),
    path("invoices/", include("invoicing.invoice_urls")),
    path("settings/", include(settings_urls)),
]
