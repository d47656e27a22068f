"""Screens for payments, reversals, credit notes and refunds of one invoice, and the list
of refunds to make. The front desk registers money; crediting is for administrators."""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.contrib import messages
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views import View

from core.money import format_amount
from core.roles import FRONT_DESK, AdminRequiredMixin, RoleRequiredMixin

from . import credit_notes, payments
from .invoice_models import Invoice
from .payment_forms import CreditNoteForm, PaymentForm, RefundForm, ReversalForm
from .payment_models import CreditNote, Payment


class FrontDeskMixin(RoleRequiredMixin):
    allowed_roles = FRONT_DESK


def show(request: HttpRequest, invoice: Invoice, form: forms.Form, title: str,
         submit: str, extra: dict[str, Any] | None = None) -> HttpResponse:
    context = {"nav": "invoices", "invoice": invoice, "form": form, "title": title,
               "submit": submit, "money": payments.figures(invoice)} | (extra or {})
    return render(request, "invoicing/payment_form.html", context)


class PaymentCreateView(FrontDeskMixin, View):
    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        invoice = get_object_or_404(Invoice, pk=pk)
        if invoice.is_draft:
            return redirect("invoice-detail", pk=pk)
        form = PaymentForm(initial={"amount": invoice.open_amount,
                                    "request_key": uuid.uuid4()})
        return show(request, invoice, form, _("Register payment"), _("Register payment"))

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        invoice = get_object_or_404(Invoice, pk=pk)
        form = PaymentForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                payments.register_payment(
                    invoice, amount=data["amount"], paid_on=data["paid_on"],
                    method=data["method"], reference=data["reference"], by=request.user,
                    request_key=data["request_key"])
            except payments.PaymentError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, _("Payment of %(amount)s registered.")
                                 % {"amount": format_amount(data["amount"])})
                return redirect("invoice-detail", pk=pk)
        return show(request, invoice, form, _("Register payment"), _("Register payment"))


class PaymentReverseView(FrontDeskMixin, View):
    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        payment: Payment = get_object_or_404(Payment.objects.select_related("invoice"), pk=pk)
        return self.show(request, payment, ReversalForm())

    def show(self, request: HttpRequest, payment: Payment, form: forms.Form) -> HttpResponse:
        return show(request, payment.invoice, form, _("Reverse payment"), _("Reverse payment"),
                    {"payment": payment})

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        payment: Payment = get_object_or_404(Payment.objects.select_related("invoice"), pk=pk)
        form = ReversalForm(request.POST)
        if form.is_valid():
            try:
                payments.reverse_payment(payment, reason=form.cleaned_data["reason"],
                                         by=request.user)
            except payments.PaymentError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, _("The payment has been reversed."))
                return redirect("invoice-detail", pk=payment.invoice_id)
        return self.show(request, payment, form)


class RefundCreateView(FrontDeskMixin, View):
    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        invoice = get_object_or_404(Invoice, pk=pk)
        form = RefundForm(initial={"amount": payments.figures(invoice).owed_to_patient})
        return show(request, invoice, form, _("Record refund"), _("Record refund"))

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        invoice = get_object_or_404(Invoice, pk=pk)
        form = RefundForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                payments.record_refund(invoice, amount=data["amount"],
                                       refunded_on=data["refunded_on"], method=data["method"],
                                       reference=data["reference"], by=request.user)
            except payments.PaymentError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, _("The refund has been recorded."))
                return redirect("invoice-detail", pk=pk)
        return show(request, invoice, form, _("Record refund"), _("Record refund"))


class CreditNoteCreateView(AdminRequiredMixin, View):
    def form(self, invoice: Invoice, data: Any = None) -> CreditNoteForm:
        return CreditNoteForm(data, rows=credit_notes.creditable(invoice),
                              initial={"request_key": uuid.uuid4()})

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        invoice = get_object_or_404(Invoice, pk=pk)
        if invoice.is_draft:
            return redirect("invoice-detail", pk=pk)
        return show(request, invoice, self.form(invoice), _("Credit"), _("Create credit note"))

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        invoice = get_object_or_404(Invoice, pk=pk)
        form = self.form(invoice, request.POST)
        if form.is_valid():
            try:
                note = credit_notes.create_credit_note(
                    invoice, counts=form.counts(), reason=form.cleaned_data["reason"],
                    by=request.user, request_key=form.cleaned_data["request_key"])
            except credit_notes.CreditNoteError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, _("Credit note %(number)s has been created.")
                                 % {"number": note.number})
                return redirect("invoice-detail", pk=pk)
        return show(request, invoice, form, _("Credit"), _("Create credit note"))


class CreditNotePdfView(FrontDeskMixin, View):
    def get(self, request: HttpRequest, pk: int) -> FileResponse:
        note = credit_notes.store_pdf(get_object_or_404(CreditNote, pk=pk).pk)
        response = FileResponse(note.pdf.open("rb"), content_type="application/pdf",
                                filename=f"{note.number}.pdf")
        response["Cache-Control"] = "private, no-store"
        return response


class RefundListView(FrontDeskMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        return render(request, "invoicing/payment_refunds.html",
                      {"nav": "invoices", "title": _("Refunds to make"),
                       "rows": payments.refunds_to_make()})


def money_context(invoice: Invoice) -> dict[str, Any]:
    """What the invoice page shows of its money, credits and the "package unpaid" flag."""
    from .queries import unpaid_appointments_of_lots

    lots = [li.credit_lot_id for li in invoice.lines.all() if li.credit_lot_id]
    return {
        "money": payments.figures(invoice),
        "payments_list": list(invoice.payments.order_by("paid_on", "pk")),
        "refunds_list": list(invoice.refunds.all()),
        "notes": list(invoice.credit_notes.order_by("sequence")),
        "unpaid_appointments": unpaid_appointments_of_lots(lots),
    }
