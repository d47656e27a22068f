from django.urls import include, path

from .views import EmailTemplateCrud, PatientEmailsView, SentEmailCrud

# Under /settings/communication/ (administrators only).
settings_urlpatterns = [
    path("email-templates/", include(EmailTemplateCrud().urls())),
    path("sent-emails/", include(SentEmailCrud().urls())),
]

# The patient page's Emails tab embeds this (receptionists and administrators).
urlpatterns = [
    path("patients/<int:pk>/emails/", PatientEmailsView.as_view(), name="patient-emails"),
]
