"""Settings → Communication: the email template editor, Sent emails, a patient's emails."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from communication.models import EmailTemplate, EmailTemplateText, Event, OutgoingEmail
from communication.services import ensure_default_templates
from communication.views import EmailTemplateCrud, SentEmailCrud
from core.audit import history

from . import factories
from .crud_harness import CrudHarness
from .test_outbox import _no_broker  # noqa: F401  (autouse: nothing is really enqueued)

LIST = "/settings/communication/email-templates/"


def standard(event: str = Event.PRODUCT_INVOICE) -> EmailTemplate:
    ensure_default_templates()
    return EmailTemplate.objects.get(event=event, name="")


def edit_url(template: EmailTemplate, language: str = "nl") -> str:
    return f"{LIST}{template.pk}/?language={language}"


def fingerprint(client: Client, url: str) -> str:
    return str(client.get(url).context["form"].initial["_fingerprint"])


class TestEmailTemplateScreen(CrudHarness):
    crud = EmailTemplateCrud()
    list_text = "Fysio welkom"
    search_text = "welkom"

    def make_object(self) -> EmailTemplate:
        ensure_default_templates()
        template = EmailTemplate.objects.create(event=Event.PRODUCT_INVOICE, name="Fysio welkom")
        for language in ("nl", "en"):
            EmailTemplateText.objects.create(template=template, language=language,
                                             subject="Welkom {{ invoice_number }}", body="Hoi")
        return template

    def valid_data(self) -> dict[str, Any]:
        return {"name": "Coaching", "subject_nl": "Uw factuur {{ invoice_number }}",
                "body_nl": "Beste {{ patient_first_name }},\n\nTot ziens."}

    def edit_data(self, obj: Any) -> dict[str, Any]:
        return {"name": obj.name, "subject_nl": "Nieuw: {{ invoice_number }}", "body_nl": "Ja"}


class TestSentEmailScreen(CrudHarness):
    crud = SentEmailCrud()
    list_text = "Factuur 2026-00001"
    search_text = "sanne@"

    def make_object(self) -> OutgoingEmail:
        return factories.outgoing_email()


@pytest.mark.django_db
def test_the_list_shows_every_event_in_both_languages(admin_client: Client) -> None:
    admin_client.cookies["django_language"] = "en"
    body = admin_client.get(LIST).content.decode()
    for event in Event:
        assert str(event.label) in body
    assert EmailTemplateText.objects.count() == 2 * len(Event)
    assert body.count("?language=en") >= len(Event)


@pytest.mark.django_db
def test_editing_the_dutch_invoice_text_saves_it_and_records_the_change(
    admin_client: Client,
) -> None:
    template = standard()
    url = edit_url(template)
    data = {"_fingerprint": fingerprint(admin_client, url),
            "subject_nl": "Uw pakketfactuur {{ invoice_number }}", "body_nl": "Beste {{ "
            "patient_first_name }}, betaal {{ invoice_total }}."}
    assert admin_client.post(url, data).status_code == 302
    assert template.text("nl").subject == "Uw pakketfactuur {{ invoice_number }}"
    assert template.text("en").subject.startswith("Invoice")  # the other language untouched
    entry = history(template).first()
    assert entry.changes["subject_nl"][1] == "Uw pakketfactuur {{ invoice_number }}"


@pytest.mark.django_db
@pytest.mark.parametrize(("body", "token"), [
    ("Beste {{ request }}", "{{ request }}"),
    ("{% load static %}", "{% load static %}"),
    ("{{ patient.__dict__ }}", "{{ patient.__dict__ }}"),
    ("{{ patient_first_name|upper }}", "{{ patient_first_name|upper }}"),
])
def test_saving_refuses_bad_text_naming_the_token(
    admin_client: Client, body: str, token: str,
) -> None:
    template = standard()
    url = edit_url(template)
    before = template.text("nl").body
    data = {"_fingerprint": fingerprint(admin_client, url), "subject_nl": "x", "body_nl": body}
    response = admin_client.post(url, data)
    assert response.status_code == 422
    assert token in " ".join(response.context["form"].errors["body_nl"])
    assert token in response.content.decode().replace("&#x27;", "'").replace("&quot;", '"')
    assert template.text("nl").body == before


@pytest.mark.django_db
def test_switching_off_applies_to_the_event_but_not_to_the_invoice(admin_client: Client) -> None:
    reminder = standard(Event.APPOINTMENT_REMINDER)
    url = edit_url(reminder, "en")
    form = admin_client.get(url).context["form"]
    assert "enabled" in form.fields
    text = reminder.text("en")
    data = {"_fingerprint": fingerprint(admin_client, url), "subject_en": text.subject,
            "body_en": text.body}  # the checkbox left unticked
    assert admin_client.post(url, data).status_code == 302
    reminder.refresh_from_db()
    assert not reminder.enabled
    assert "enabled" not in admin_client.get(edit_url(standard())).context["form"].fields


@pytest.mark.django_db
def test_reset_puts_the_shipped_text_back(admin_client: Client) -> None:
    from communication.defaults import DEFAULTS

    template = standard(Event.CREDITS_LOW)
    EmailTemplateText.objects.filter(template=template, language="nl").update(subject="Oud")
    response = admin_client.post(f"{LIST}{template.pk}/reset/?language=nl")
    assert response.status_code == 302 and response["Location"].endswith("?language=nl")
    assert template.text("nl").subject == DEFAULTS[Event.CREDITS_LOW]["nl"][0]
    assert history(template).first().changes["subject_nl"][0] == "Oud"


@pytest.mark.django_db
def test_the_live_preview_renders_sample_data_or_says_what_is_wrong(
    admin_client: Client,
) -> None:
    template = standard()
    url = f"{LIST}{template.pk}/preview/?language=nl"
    ok = admin_client.post(url, {"subject_nl": "Factuur {{ invoice_number }}",
                                 "body_nl": "Beste <b>{{ patient_first_name }}</b>"},
                           headers={"HX-Request": "true"})
    body = ok.content.decode()
    assert "<html" not in body.split("srcdoc")[0]  # a partial
    assert "Factuur 2026-00042" in body and "Sanne" in body
    assert "&amp;lt;b&amp;gt;" in body  # the text's own <b> is text, escaped twice in srcdoc
    bad = admin_client.post(url, {"subject_nl": "x", "body_nl": "{{ request }}"})
    assert "{{ request }}" in bad.content.decode() and "srcdoc" not in bad.content.decode()


@pytest.mark.django_db
def test_test_email_goes_to_the_administrator_with_the_unsaved_text(
    admin_client: Client, admin: Any,
) -> None:
    admin.email = "beheer@praktijk.example"
    admin.save()
    template = standard()
    data = {"subject_nl": "Proef {{ invoice_number }}", "body_nl": "Niet opgeslagen tekst"}
    response = admin_client.post(f"{LIST}{template.pk}/test-email/?language=nl", data)
    assert response.status_code == 200
    assert "Niet opgeslagen tekst" in response.content.decode()  # the editor keeps it
    email = OutgoingEmail.objects.get()
    assert email.is_test and email.to_email == "beheer@praktijk.example"
    assert email.subject == "Proef 2026-00042" and email.status == OutgoingEmail.Status.QUEUED
    assert template.text("nl").subject.startswith("Factuur")  # nothing saved


@pytest.mark.django_db
def test_standard_templates_cannot_be_deleted(admin_client: Client) -> None:
    template = standard()
    assert f"{LIST}{template.pk}/delete/" not in admin_client.get(LIST).content.decode()
    admin_client.post(f"{LIST}{template.pk}/delete/")
    assert EmailTemplate.objects.filter(pk=template.pk).exists()


@pytest.mark.django_db
def test_an_administrator_sees_exactly_what_was_sent(admin_client: Client) -> None:
    email = factories.outgoing_email()
    email.attachments.create(content=b"x", filename="factuur-2026-00001.pdf",
                             mimetype="application/pdf", size=1)
    page = admin_client.get(f"/settings/communication/sent-emails/{email.pk}/").content.decode()
    for shown in (email.subject, email.message_id.replace("<", "&lt;").replace(">", "&gt;"),
                  "factuur-2026-00001.pdf", "sanne@example.org", "Beste Sanne,"):
        assert shown in page
    assert "Send again" not in page and "Opnieuw versturen" not in page  # not failed


@pytest.mark.django_db
def test_the_list_shows_local_time(admin_client: Client) -> None:
    import datetime

    email = factories.outgoing_email()
    OutgoingEmail.objects.filter(pk=email.pk).update(
        created_at=datetime.datetime(2026, 7, 1, 8, 5, tzinfo=datetime.UTC))
    body = admin_client.get("/settings/communication/sent-emails/").content.decode()
    assert "10:05" in body and "08:05" not in body  # Amsterdam summer time


@pytest.mark.django_db
def test_sent_emails_search_by_status(admin_client: Client) -> None:
    factories.outgoing_email()
    admin_client.cookies["django_language"] = "en"
    url = "/settings/communication/sent-emails/"
    assert "Factuur 2026-00001" in admin_client.get(url, {"q": "queued"}).content.decode()
    assert "Factuur 2026-00001" not in admin_client.get(url, {"q": "failed"}).content.decode()


@pytest.mark.django_db
def test_the_patients_emails_tab_is_for_the_front_desk(
    admin_client: Client, receptionist_client: Client, practitioner_client: Client,
) -> None:
    email = factories.outgoing_email()
    url = f"/patients/{email.patient_id}/emails/"
    partial = receptionist_client.get(url, headers={"HX-Request": "true"})
    assert partial.status_code == 200
    body = partial.content.decode()
    assert "Factuur 2026-00001" in body and "<html" not in body
    detail = f"/settings/communication/sent-emails/{email.pk}/"
    assert detail not in body  # administrators open it
    assert detail in admin_client.get(url).content.decode()
    assert practitioner_client.get(url).status_code == 403
    assert Client().get(url).status_code == 302
