from django.urls import include, path

from .views import EmailTemplateCrud, SentEmailCrud

# Under /settings/communication/ (administrators only).
settings_urlpatterns = [
    path("email-templates/", include(EmailTemplateCrud().urls())),
    path("sent-emails/", include(SentEmailCrud().urls())),
]
