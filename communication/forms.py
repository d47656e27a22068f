from __future__ import annotations

from functools import partial
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from core import audit
from core.crud import ConcurrencyModelForm
from core.services import form_snapshot

from . import placeholders, rendering
from .defaults import default_text
from .models import LANGUAGES, EmailTemplate, Event


def _stored(part: str, language: str, template: EmailTemplate) -> str:
    text = template.text(language) if template.pk else None
    return getattr(text, part, "")


def check_placeholders(text: str, event: str) -> str:
    found = rendering.problems(text, placeholders.names_for(event))
    if found:
        raise forms.ValidationError(found)
    return text


class EmailTemplateForm(ConcurrencyModelForm):
    """One template in one language (`subject_<lang>`, `body_<lang>`, so the history says
    which language changed); a new template is a named product-invoice template."""

    class Meta:
        model = EmailTemplate
        fields = ["name", "enabled"]

    def __init__(self, *args: Any, language: str = "nl", **kwargs: Any) -> None:
        self.language = language if language in LANGUAGES else "nl"
        instance = kwargs.get("instance")
        if instance is not None and instance.pk is None:
            instance.event = Event.PRODUCT_INVOICE
        self.subject_field, self.body_field = f"subject_{self.language}", f"body_{self.language}"
        # What the history and the stale-edit fingerprint compare for the text fields.
        setattr(self, f"audit_{self.subject_field}", partial(_stored, "subject", self.language))
        setattr(self, f"audit_{self.body_field}", partial(_stored, "body", self.language))
        super().__init__(*args, **kwargs)
        self.fields[self.subject_field] = forms.CharField(
            label=_("Subject"), max_length=200,
            widget=forms.TextInput(attrs={"data-placeholder-target": "", "autocomplete": "off"}),
        )
        self.fields[self.body_field] = forms.CharField(
            label=_("Text"), max_length=10_000, strip=False,
            help_text=_("An empty line starts a new paragraph. **Bold**, and links like "
                        "[our website](https://example.nl) or a plain https:// address."),
            widget=forms.Textarea(attrs={"rows": 16, "data-placeholder-target": ""}),
        )
        template = self.instance
        text = template.text(self.language) if template.pk else None
        subject, body = (text.subject, text.body) if text else default_text(
            template.event, self.language
        )
        self.initial.setdefault(self.subject_field, subject)
        self.initial.setdefault(self.body_field, body)
        if template.pk and template.is_standard:
            del self.fields["name"]
        else:
            self.fields["name"].required = True
        if not template.can_switch_off:
            del self.fields["enabled"]
        if not self.is_bound and template.pk is not None:
            # The fingerprint must cover the fields added above.
            self.initial["_fingerprint"] = audit.fingerprint(form_snapshot(self, template))

    @property
    def event(self) -> str:
        return str(self.instance.event)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for field in (self.subject_field, self.body_field):
            if field in data:
                try:
                    data[field] = check_placeholders(data[field], self.event)
                except forms.ValidationError as exc:
                    self.add_error(field, exc)
        if self.subject_field in data:
            data[self.subject_field] = " ".join(data[self.subject_field].split())
        return data

    def clean_name(self) -> str:
        name: str = " ".join(self.cleaned_data.get("name", "").split())
        others = EmailTemplate.objects.filter(event=self.event, name__iexact=name)
        if others.exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError(_("There is already a template with this name."))
        return name

    def after_save(self, template: EmailTemplate) -> None:
        """Inside core.services.save_form's transaction, before its audit diff."""
        from .services import save_template_texts

        texts = {self.language: (self.cleaned_data[self.subject_field],
                                 self.cleaned_data[self.body_field])}
        for language in LANGUAGES:
            if language != self.language and template.text(language) is None:
                texts[language] = default_text(template.event, language)
        save_template_texts(template, texts)
        if hasattr(template, "_prefetched_objects_cache"):
            template._prefetched_objects_cache.pop("texts", None)
