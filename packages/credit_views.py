"""The patient page's Packages tab actions: import, grant, adjust and extend credits
(administrators only; each calls one service of packages.services)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View

from core.roles import AdminRequiredMixin
from patients.models import Patient

from . import ledger, services
from .credit_forms import AdjustForm, ExtendForm, GrantForm, ImportForm
from .ledger_models import CreditLot


class CreditActionView(AdminRequiredMixin, View):
    form_class: type[forms.Form]
    title: Any = ""

    # Looked up after the role check, so others get 403 whether or not these exist.
    @cached_property
    def patient(self) -> Patient:
        return get_object_or_404(Patient, pk=self.kwargs["pk"])

    @cached_property
    def lot(self) -> CreditLot | None:
        if "lot" not in self.kwargs:
            return None
        return get_object_or_404(CreditLot.objects.select_related(
            "balance__package", "balance__patient"), pk=self.kwargs["lot"],
            balance__patient=self.patient)

    def get(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        return self.show(request, self.form_class())

    def post(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        form = self.form_class(request.POST)
        if form.is_valid():
            try:
                message = self.act(form.cleaned_data, by=request.user)
            except ledger.LedgerError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, message)
                return HttpResponseRedirect(reverse("patient-packages", args=[self.patient.pk]))
        return self.show(request, form, status=422)

    def act(self, data: dict[str, Any], *, by: Any) -> str:
        raise NotImplementedError

    def show(self, request: HttpRequest, form: forms.Form, status: int = 200) -> HttpResponse:
        return render(request, "packages/credit_action.html", {
            "form": form, "patient": self.patient, "lot": self.lot, "title": self.title,
            "nav": "patients",
            "back": reverse("patient-packages", args=[self.patient.pk]),
        }, status=status)


class ImportView(CreditActionView):
    form_class = ImportForm
    title = gettext_lazy("Import credits")

    def act(self, data: dict[str, Any], *, by: Any) -> str:
        package = data["package"]
        services.import_credits(
            patient=self.patient, package=package, credits=data["credits"],
            value_per_credit=data["value_per_credit"] or package.internal_rate,
            expires_on=data["expires_on"], note=data["note"],
            key=f"import:{data['idempotency_key']}", by=by)
        return _("%(credits)s credits imported in ‘%(package)s’.") % {
            "credits": data["credits"], "package": package.name}


class GrantView(CreditActionView):
    form_class = GrantForm
    title = gettext_lazy("Grant credits")

    def act(self, data: dict[str, Any], *, by: Any) -> str:
        services.grant_credits(patient=self.patient, package=data["package"],
                               credits=data["credits"], reason=data["reason"],
                               key=f"grant:{data['idempotency_key']}", by=by)
        return _("%(credits)s credits granted in ‘%(package)s’.") % {
            "credits": data["credits"], "package": data["package"].name}


class AdjustView(CreditActionView):
    form_class = AdjustForm
    title = gettext_lazy("Adjust credits")

    def act(self, data: dict[str, Any], *, by: Any) -> str:
        assert self.lot is not None
        services.adjust_credits(self.lot, data["change"], reason=data["reason"],
                                key=f"adjust:{data['idempotency_key']}", by=by)
        return _("Credits adjusted.")


class ExtendView(CreditActionView):
    form_class = ExtendForm
    title = gettext_lazy("Extend expiry")

    def act(self, data: dict[str, Any], *, by: Any) -> str:
        assert self.lot is not None
        services.extend_lot(self.lot, data["expires_on"], reason=data["reason"],
                            key=f"extend:{data['idempotency_key']}", by=by)
        return _("Expiry extended.")
