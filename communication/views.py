"""Settings → Communication (email templates, sent emails) and a patient's emails."""

from __future__ import annotations

from typing import Any, cast

from django.contrib import messages
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.crud import Column, Crud, CrudFormView, CrudView

from . import placeholders, queries, services
from .forms import EmailTemplateForm
from .models import LANGUAGES, EmailTemplate, Event, OutgoingEmail

LANGUAGE_NAMES = {"nl": gettext_lazy("Dutch"), "en": gettext_lazy("English")}


def chosen_language(request: HttpRequest) -> str:
    language = request.GET.get("language", "nl")
    return language if language in LANGUAGES else "nl"


# ------------------------------------------------------------------- email templates

class EmailTemplateCrud(Crud):
    model = EmailTemplate
    form_class = EmailTemplateForm
    name = "email-templates"
    list_name = "email-templates"
    columns = [
        Column("title", gettext_lazy("Email"), link=True),
        Column("pk", gettext_lazy("Subject"), template="communication/cells/subjects.html"),
        Column("enabled", gettext_lazy("Sent"), template="communication/cells/enabled.html"),
    ]
    search_fields = ("name", "texts__subject", "texts__body")
    title = gettext_lazy("Email templates")
    add_label = gettext_lazy("+ Add invoice template")
    empty_text = gettext_lazy("No email templates.")
    delete_text = gettext_lazy(
        "Products that use this template go back to the standard product invoice email."
    )
    intro_template = "communication/_templates_intro.html"
    form_intro_template = "communication/_language_tabs.html"
    aside_template = "communication/_editor_aside.html"

    def queryset(self) -> QuerySet[Any]:
        services.ensure_default_templates()
        return queries.templates_in_list_order()

    def search(self, qs: QuerySet[Any], term: str) -> QuerySet[Any]:
        return super().search(qs, term).distinct()

    def form_kwargs(self, request: HttpRequest) -> dict[str, Any]:
        return {"language": chosen_language(request)}

    def deletable(self, obj: Any) -> bool:
        return not obj.is_standard

    def delete(self, obj: Any, *, by: Any) -> str:
        services.delete_template(obj, by=by)
        return _("Email template ‘%(name)s’ has been deleted.") % {"name": obj}

    def saved_message(self, obj: Any, created: bool) -> str:
        return _("Email template ‘%(name)s’ has been saved.") % {"name": obj}

    def form_context(self, request: HttpRequest, obj: Any, form: Any) -> dict[str, Any]:
        language = form.language
        base = self.url("edit", obj) if obj.pk else self.url("add")
        preview_url = (reverse("email-templates-preview", args=[obj.pk]) if obj.pk
                       else reverse("email-templates-preview-new"))
        return {
            "language": language,
            "language_name": LANGUAGE_NAMES[language],
            "language_tabs": [(code, LANGUAGE_NAMES[code], f"{base}?language={code}")
                          for code in LANGUAGES],
            "placeholders": placeholders.for_event(str(obj.event)),
            "preview": preview_of(form),
            "preview_url": f"{preview_url}?language={language}",
            "test_url": (f"{reverse('email-templates-test', args=[obj.pk])}?language={language}"
                         if obj.pk else ""),
            "reset_url": (f"{reverse('email-templates-reset', args=[obj.pk])}?language={language}"
                          if obj.pk else ""),
        }

    def extra_urls(self) -> list[URLPattern]:
        return [
            path("preview/", TemplatePreviewView.as_view(crud=self),
                 name="email-templates-preview-new"),
            path("<int:pk>/preview/", TemplatePreviewView.as_view(crud=self),
                 name="email-templates-preview"),
            path("<int:pk>/test-email/", TestEmailView.as_view(crud=self),
                 name="email-templates-test"),
            path("<int:pk>/reset/", ResetTemplateView.as_view(crud=self),
                 name="email-templates-reset"),
        ]


def preview_of(form: EmailTemplateForm) -> dict[str, Any]:
    """The email as the patient would see it, with sample data; or why it cannot be."""
    if form.is_bound:
        form.is_valid()
        errors = [e for f in (form.subject_field, form.body_field) for e in form.errors.get(f, [])]
        data = form.cleaned_data if hasattr(form, "cleaned_data") else {}
        subject, body = data.get(form.subject_field), data.get(form.body_field)
    else:
        errors = []
        subject = form.initial.get(form.subject_field)
        body = form.initial.get(form.body_field)
    if errors or subject is None or body is None:
        return {"errors": errors}
    values = services.sample_values(form.event, form.language)
    subject, text, html = services.render_email(subject, body, values, form.language)
    return {"subject": subject, "text": text, "html": html, "errors": []}


class TemplatePreviewView(CrudView):
    """POST the editor's fields, get the preview (HTMX, as the user types)."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int | None = None) -> HttpResponse:
        template = (get_object_or_404(EmailTemplate, pk=pk) if pk is not None
                    else EmailTemplate(event=Event.PRODUCT_INVOICE))
        form = EmailTemplateForm(data=request.POST, instance=template,
                                 language=chosen_language(request))
        return render(request, "communication/_preview.html", {"preview": preview_of(form)})


class TestEmailView(CrudFormView):
    """Send the text in the editor (saved or not) with sample data to the administrator,
    and show the editor again with what was typed."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int | None = None) -> HttpResponse:
        template = self.get_object(pk)
        form = cast(EmailTemplateForm, self.make_form(request, template))
        preview = preview_of(form)
        if preview["errors"]:
            messages.error(request, _("Correct the text first; then send the test email."))
        elif not request.user.email:  # type: ignore[union-attr]
            messages.error(request, _("Your account has no email address. Add one under "
                                      "Settings → Users, then try again."))
        else:
            email = services.send_test_email(
                template, form.language, form.cleaned_data[form.subject_field],
                form.cleaned_data[form.body_field], by=request.user,
            )
            messages.success(request, _("A test email is on its way to %(address)s. "
                                        "Sent emails shows how it went.")
                             % {"address": email.to_email})
        return self.render_form(request, form, template)


class ResetTemplateView(CrudView):
    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        template = get_object_or_404(EmailTemplate, pk=pk)
        language = chosen_language(request)
        services.reset_template_text(template, language, by=request.user)
        messages.success(request, _("The text of ‘%(name)s’ (%(language)s) is back to the default.")
                         % {"language": LANGUAGE_NAMES[language], "name": template})
        return HttpResponseRedirect(f"{self.config.url('edit', template)}?language={language}")


# ----------------------------------------------------------------------- sent emails

class SentEmailCrud(Crud):
    model = OutgoingEmail
    name = "sent-emails"
    list_name = "sent-emails"
    can_add = can_edit = can_delete = False
    columns = [
        Column("created_at", gettext_lazy("Queued at")),
        Column("to_email", gettext_lazy("To"), template="communication/cells/recipient.html"),
        Column("subject", gettext_lazy("Subject"), link=True),
        Column("status", gettext_lazy("Status"), template="communication/cells/status.html"),
    ]
    search_fields = ("to_email", "to_name", "subject", "message_id", "idempotency_key")
    title = gettext_lazy("Sent emails")
    empty_text = gettext_lazy(
        "No emails yet. Emails appear here as soon as they are queued, e.g. when an invoice "
        "is issued."
    )
    detail_template = "communication/sent_email.html"
    select_related = ("patient", "template")
    ordering = ("-created_at", "-pk")

    def queryset(self) -> QuerySet[Any]:
        return super().queryset().prefetch_related("attachments")

    def search(self, qs: QuerySet[Any], term: str) -> QuerySet[Any]:
        statuses = [s for s, label in OutgoingEmail.Status.choices
                    if term.lower() in (s, str(label).lower())]
        return qs.filter(Q(pk__in=super().search(qs, term).values("pk"))
                         | Q(status__in=statuses))

    def detail_context(self, request: HttpRequest, obj: Any) -> dict[str, Any]:
        return {"email": obj, "attachments": list(obj.attachments.all()),
                "send_again_url": reverse("sent-emails-send-again", args=[obj.pk])}

    def extra_urls(self) -> list[URLPattern]:
        return [path("<int:pk>/send-again/", SendAgainView.as_view(crud=self),
                     name="sent-emails-send-again")]


class SendAgainView(CrudView):
    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        email = get_object_or_404(OutgoingEmail, pk=pk)
        email = services.send_again(email, by=request.user)
        if email.status == OutgoingEmail.Status.QUEUED:
            messages.success(request, _("The email to %(address)s is queued again.")
                             % {"address": email.to_email})
        else:
            messages.error(request, email.last_error or _("This email cannot be sent again."))
        return HttpResponseRedirect(self.config.url("detail", email))


# --------------------------------------------------------------- a patient's emails
