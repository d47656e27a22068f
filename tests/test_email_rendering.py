"""The placeholder renderer: an injection corpus that must be refused (each refusal naming
its token, nothing leaking), and the positive cases."""

from __future__ import annotations

import datetime
import email
import re
from email import policy

import pytest
from django.conf import settings
from djmoney.money import Money

from communication import placeholders, rendering
from communication.defaults import DEFAULTS
from communication.forms import check_placeholders
from communication.models import LANGUAGES, Event
from communication.services import build_values, render_email

ALLOWED = placeholders.names_for(Event.PRODUCT_INVOICE)

# (template text, the token the refusal must name)
CORPUS = [
    ("{% load static %}", "{% load static %}"),
    ('{% include "base.html" %}', '{% include "base.html" %}'),
    ("{% debug %}", "{% debug %}"),
    ("{%- if True -%}x{%- endif -%}", "{%- if True -%}"),
    ("{{ settings.SECRET_KEY }}", "{{ settings.SECRET_KEY }}"),
    ("{{ request }}", "{{ request }}"),
    ("{{ request.user.password }}", "{{ request.user.password }}"),
    ("{{ ''.__class__ }}", "{{ ''.__class__ }}"),
    ("{{ ''.__class__.__mro__[1].__subclasses__() }}", "{{ ''.__class__.__mro__[1]"),
    ("{{ patient.__dict__ }}", "{{ patient.__dict__ }}"),
    ("{{ invoice.practice.owner.email }}", "{{ invoice.practice.owner.email }}"),
    ("{{ patient_first_name|upper }}", "{{ patient_first_name|upper }}"),
    ("{{ patient_first_name|attr('format') }}", "{{ patient_first_name|attr('format') }}"),
    ("{{ cycler.__init__.__globals__.os }}", "{{ cycler.__init__.__globals__.os }}"),
    ("{{ range(10**9) }}", "{{ range(10**9) }}"),
    ("{{ 7*7 }}", "{{ 7*7 }}"),
    ("{{ config }}", "{{ config }}"),
    ("{{ self }}", "{{ self }}"),
    ("{# a comment #}", "{# a comment #}"),
    ("{{{ patient_first_name }}}", "{{{ patient_first_name }}"),
    ("{0.__class__}", "{0.__class__}"),
    ("{patient_first_name}", "{patient_first_name}"),
    ("{patient.__dict__}", "{patient.__dict__}"),
    ("{}", "{}"),
    ("${patient_first_name}", "${patient_first_name}"),
    ("#{7*7}", "#{7*7}"),
    ("%(secret)s", "%(secret)s"),
    ("<%= 7*7 %>", "<%= 7*7 %>"),
    ("{{ patient_first_name ", "{{"),
    ("}} x", "}}"),
]


@pytest.mark.parametrize(("text", "token"), CORPUS, ids=[c[0] for c in CORPUS])
def test_injection_corpus_is_refused_naming_the_token(text: str, token: str) -> None:
    found = rendering.problems(f"Beste patiënt, {text} groet", ALLOWED)
    assert found, f"accepted: {text}"
    assert any(token in message for message in found), found


def test_every_corpus_entry_is_refused_by_the_form_validation_too() -> None:
    from django import forms

    for text, token in CORPUS:
        with pytest.raises(forms.ValidationError) as refused:
            check_placeholders(text, Event.PRODUCT_INVOICE)
        assert token in " ".join(refused.value.messages)


def test_each_problem_is_reported_once_each() -> None:
    found = rendering.problems("{{ request }} {{ request }} {% load x %}", ALLOWED)
    assert len(found) == 2


def test_a_placeholder_of_another_event_is_unknown_here() -> None:
    found = rendering.problems("{{ appointment_start }}", ALLOWED)
    assert found and "{{ appointment_start }}" in found[0]


@pytest.mark.django_db
def test_nothing_leaks_when_unvalidated_text_is_rendered_anyway() -> None:
    """Even text that bypassed validation is never evaluated: it stays literal."""
    values = placeholders.sample_context(Event.PRODUCT_INVOICE, "nl")
    evil = " ".join(text for text, _token in CORPUS) + " {{ patient_first_name }}"
    subject, text, html = render_email("{{ settings.SECRET_KEY }}", evil, values, "nl")
    rendered = subject + text + html
    assert settings.SECRET_KEY not in rendered
    assert "<class '" not in rendered and "object at 0x" not in rendered
    assert not re.search(r"\b49\b", rendered)  # 7*7 was not evaluated
    assert subject == "{{ settings.SECRET_KEY }}"
    # The text part is the template verbatim, with only the allowed placeholder filled in.
    expected = rendering.PLACEHOLDER.sub(lambda m: values.get(m[1], m[0]), evil)
    assert text.startswith(expected + "\n")
    assert "Sanne" in text  # the real placeholder still works


def test_render_context_is_only_strings_from_the_allow_list() -> None:
    for event in Event:
        values = placeholders.sample_context(event, "nl")
        assert set(values) == placeholders.names_for(event)
        assert all(type(v) is str for v in values.values())


@pytest.mark.django_db
@pytest.mark.parametrize("event", list(Event))
def test_every_allowed_placeholder_renders_its_value(event: str) -> None:
    names = sorted(placeholders.names_for(event))
    body = "\n\n".join(f"{name}=[{{{{ {name} }}}}]" for name in names)
    context = {p.name: f"value-of-{p.name}" for p in placeholders.for_event(event)}
    values = build_values(event, "nl", context)
    subject, text, html = render_email("{{ practice_name }}", body, values, "nl")
    for name in names:
        assert f"{name}=[{values[name]}]" in text
        assert values[name]
    assert subject == values["practice_name"]


@pytest.mark.django_db
def test_values_are_formatted_in_the_recipients_language() -> None:
    context = {"invoice_total": Money("1200.00", "EUR"), "due_date": datetime.date(2026, 2, 16)}
    body = "{{ invoice_total }} / {{ due_date }}"
    full = {p.name: p.sample for p in placeholders.for_event(Event.PRODUCT_INVOICE)} | context
    nl = render_email("x", body, build_values(Event.PRODUCT_INVOICE, "nl", full), "nl")[1]
    en = render_email("x", body, build_values(Event.PRODUCT_INVOICE, "en", full), "en")[1]
    assert nl.startswith("€ 1.200,00 / 16 februari 2026")
    assert en.startswith("€1,200.00 / 16 February 2026")


@pytest.mark.django_db
def test_html_in_a_patient_name_is_escaped_in_html_and_intact_in_text() -> None:
    name = '<script>alert("x")</script> & <b>Jan</b>'
    values = placeholders.sample_context(Event.CREDITS_LOW, "nl", patient_first_name=name)
    subject, text, html = render_email("Hallo {{ patient_first_name }}",
                                       "Beste **{{ patient_first_name }}**,", values, "nl")
    assert name in text and name in subject
    assert "<script>" not in html and "<b>Jan</b>" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;Jan&lt;/b&gt;" in html
    assert "<strong>&lt;script&gt;" in html  # the template's bold still applies
    # And as an email client parses it:
    from django.core.mail import EmailMultiAlternatives

    message = EmailMultiAlternatives(subject, text, "a@b.nl", ["c@d.nl"])
    message.attach_alternative(html, "text/html")
    parsed = email.message_from_bytes(message.message().as_bytes(), policy=policy.default)
    assert name in parsed.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "<script>" not in parsed.get_body(("html",)).get_content()  # type: ignore[union-attr]


def test_values_never_become_formatting() -> None:
    values = {"patient_first_name": "**x** [a](https://evil.example) https://evil.example"}
    html = rendering.render_html("Beste {{ patient_first_name }}", values)
    assert "<strong>" not in html and "<a " not in html
    text = rendering.render_text("Beste {{ patient_first_name }}", values)
    assert values["patient_first_name"] in text


def test_light_formatting() -> None:
    body = ("Eerste regel\ntweede regel\n\n**Vet** en [onze site](https://praktijk.nl/a?b=1&c=2)"
            "\n\nKijk op https://praktijk.nl/info. Of [mail](mailto:info@praktijk.nl)"
            "\n\n[klik](javascript:alert(1))")
    html = rendering.render_html(body, {})
    assert "<p>Eerste regel<br>\ntweede regel</p>" in html
    assert "<strong>Vet</strong>" in html
    assert '<a href="https://praktijk.nl/a?b=1&amp;c=2">onze site</a>' in html
    assert '<a href="https://praktijk.nl/info">https://praktijk.nl/info</a>.' in html
    assert '<a href="mailto:info@praktijk.nl">mail</a>' in html
    assert 'href="javascript' not in html  # only http(s) and mailto links
    text = rendering.render_text(body, {})
    assert "Vet en onze site (https://praktijk.nl/a?b=1&c=2)" in text
    assert "**" not in text


def test_subject_values_cannot_add_header_lines() -> None:
    subject = rendering.render_subject("Factuur {{ invoice_number }}",
                                       {"invoice_number": "1\r\nBcc: x@evil.example"})
    assert "\n" not in subject and "\r" not in subject


@pytest.mark.parametrize("event", list(Event))
@pytest.mark.parametrize("language", LANGUAGES)
def test_default_texts_are_valid(event: str, language: str) -> None:
    subject, body = DEFAULTS[event][language]
    assert rendering.problems(subject, placeholders.names_for(event)) == []
    assert rendering.problems(body, placeholders.names_for(event)) == []


def test_dutch_defaults_address_the_patient_formally() -> None:
    for event in Event:
        body = DEFAULTS[event]["nl"][1].lower()
        assert not re.search(r"\b(je|jij|jouw|jullie)\b", body), event
        assert "met vriendelijke groet" in body
