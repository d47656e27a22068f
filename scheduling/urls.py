from django.urls import path

from . import views

urlpatterns = [
    path("", views.CalendarView.as_view(), name="calendar"),
    path("book/", views.BookView.as_view(), name="book"),
    path("book/credits/", views.BookCreditsView.as_view(), name="book-credits"),
    path("appointments/<int:pk>/", views.AppointmentView.as_view(), name="appointment"),
    path("appointments/<int:pk>/edit/", views.AppointmentEditView.as_view(),
         name="appointment-edit"),
    path("appointments/<int:pk>/cancel/", views.AppointmentCancelView.as_view(),
         name="appointment-cancel"),
    path("appointments/<int:pk>/waive/", views.AppointmentWaiveView.as_view(),
         name="appointment-waive"),
    path("appointments/<int:pk>/status/", views.AppointmentStatusView.as_view(),
         name="appointment-status"),
]

# Under /settings/appointments/ (administrators only).
settings_urlpatterns = [
    path("working-hours/", views.WorkingHoursListView.as_view(), name="working-hours"),
    path("working-hours/<int:pk>/", views.WorkingHoursEditView.as_view(),
         name="working-hours-edit"),
]
