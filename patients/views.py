from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View

from communication import queries as communication_queries
from core.crud import Column, Crud, CrudFormView, CrudListView
from core.pagination import listing, positions
from core.roles import FRONT_DESK, STAFF_ROLES, Role, RoleRequiredMixin, has_role
from invoicing.invoice_views import invoice_table
from invoicing.queries import unpaid_appointment_ids
from packages import credit_views
from packages import queries as packages_queries
from scheduling.queries import sees_all_patients, visible_patient_filter

from . import queries, services
from .forms import PatientForm
from .models import Patient

# Rows per page of the tabs' long lists: a page renders well within the screens' 100 ms.
UPCOMING_PER_PAGE = 50
PAST_PER_PAGE = 25
HISTORY_PER_PAGE = 25


class PatientCrud(Crud):
    """The patient list (search as you type) and the create/edit form."""

    model = Patient
    form_class = PatientForm
    name = "patients"
    frame_template = "crud/main_frame.html"
    columns = [
        Column("full_name", gettext_lazy("Name"), link=True),
        Column("date_of_birth", gettext_lazy("Date of birth")),
        Column("phone", gettext_lazy("Phone")),
        Column("email", gettext_lazy("Email")),
        Column("next_appointment", gettext_lazy("Next appointment")),
    ]
    search_fields = ("first_name", "last_name", "email", "phone", "date_of_birth")
    roles = FRONT_DESK
    list_roles = STAFF_ROLES
    can_delete = False  # medical records are kept (WGBO), never deleted from a list
    paginate_by = 50
    title = gettext_lazy("Patients")
    add_label = gettext_lazy("+ Add patient")
    empty_text = gettext_lazy("No patients yet. Register one with + Add patient.")
    form_top_template = "patients/_duplicates.html"

    def queryset(self) -> QuerySet[Any]:
        return queries.with_next_appointment(queries.alphabetical(Patient.objects.all()))

    def visible(self, qs: QuerySet[Any], request: HttpRequest) -> QuerySet[Any]:
        return qs.filter(visible_patient_filter(request.user))

    def search(self, qs: QuerySet[Any], term: str) -> QuerySet[Any]:
        return queries.search(qs, term)

    def link_url(self, obj: Any) -> str:
        return reverse("patient", args=[obj.pk])

    def success_url(self, obj: Any) -> str:
        return self.link_url(obj)

    def save(self, form: Any, *, by: Any) -> Patient:
        return services.save_patient(form, by=by)

    def saved_message(self, obj: Any, created: bool) -> str:
        if created:
            return _("Patient ‘%(patient)s’ has been registered.") % {"patient": obj}
        return _("The details of ‘%(patient)s’ have been saved.") % {"patient": obj}

    def urls(self) -> list[URLPattern]:
        list_view = CrudListView.as_view(crud=self)
        form_view = CrudFormView.as_view(crud=self)
        return [
            path("", list_view, name="patients"),  # the menu's name for the list
            path("", list_view, name="patients-list"),
            path("new/", form_view, name="patients-add"),
            path("<int:pk>/edit/", form_view, name="patients-edit"),
        ]


def tabs(user: Any) -> list[tuple[str, Any]]:
    result = [("details", _("Details")), ("appointments", _("Appointments"))]
    if has_role(user, *FRONT_DESK):
        result += [
            ("packages", _("Packages")), ("invoices", _("Invoices")), ("emails", _("Emails")),
        ]
    return result


def patient_for(request: HttpRequest, pk: int) -> Patient:
    """The patient, if this user may see them: 403 otherwise, whether or not they exist."""
    patient = queries.visible_patients(request.user).filter(pk=pk).first()
    if patient is None:
        if sees_all_patients(request.user):
            raise Http404
        raise PermissionDenied
    return patient


class PatientView(RoleRequiredMixin, View):
    """The patient page, one tab at a time."""

    allowed_roles = STAFF_ROLES
    tab = "details"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        patient = patient_for(request, pk)
        available = tabs(request.user)
        if self.tab not in dict(available):
            raise PermissionDenied
        context: dict[str, Any] = {
            "patient": patient, "tab": self.tab, "tabs": available, "nav": "patients",
            "title": str(patient), "can_manage": has_role(request.user, *FRONT_DESK),
        }
        if context["can_manage"]:
            context["credit_badges"] = packages_queries.badges(patient)
        # A page link of one list (HTMX) swaps only that list: its id is the request's target.
        target = request.headers.get("HX-Target") if request.headers.get("HX-Request") else None
        if self.tab == "appointments":
            context |= self.appointments(patient, request.GET)
            for name in ("upcoming", "past"):
                if target == context[name].target:
                    return render(request, "patients/_appointment_list.html",
                                  context | {"listing": context[name]})
        if self.tab == "packages":
            context |= {"balances": packages_queries.patient_balances(patient),
                        "history": listing(packages_queries.patient_history(patient),
                                           HISTORY_PER_PAGE, request.GET, param="page",
                                           target="credit-history"),
                        "is_admin": has_role(request.user, Role.ADMIN)}
            page = context["history"].page  # of primary keys so far: load its entries
            page.object_list = packages_queries.history_entries(page.object_list)
            if target == context["history"].target:
                return render(request, "packages/_credit_history.html", context)
        if self.tab == "invoices":
            params = request.GET.copy()
            params["patient"] = str(patient.pk)
            context |= invoice_table(params)
            if request.headers.get("HX-Request"):
                return render(request, "invoicing/invoice_table.html", context)
        if self.tab == "emails":
            context |= {
                "emails": communication_queries.emails_for_patient(patient)[:200],
                "can_open": has_role(request.user, Role.ADMIN),
            }
            if request.headers.get("HX-Request"):
                return render(request, "communication/_patient_emails.html", context)
        return render(request, "patients/patient.html", context)

    def appointments(self, patient: Patient, params: QueryDict) -> dict[str, Any]:
        """Upcoming ones soonest first, past ones newest first; each list in pages of its own,
        so a long history renders one page (an upcoming page holds more: usually all).
        Three queries whatever the lengths: the counts, both pages, then which appointments
        of those pages hold credits of an invoice unpaid again ("package unpaid", DOMAIN.md
        rule 7; shown to every role that sees the tab, as on the calendar)."""
        now = timezone.now()
        upcoming_count, past_count = queries.appointment_counts(patient, now)
        upcoming = listing(range(upcoming_count), UPCOMING_PER_PAGE, params,
                           param="upcoming_page", target="upcoming-appointments")
        past = listing(range(past_count), PAST_PER_PAGE, params, param="past_page",
                       target="past-appointments")
        # Pages of the counts alone so far: fill them with their appointments.
        upcoming.page.object_list, past.page.object_list = queries.appointment_pages(
            patient, now, positions(upcoming.page), positions(past.page))
        shown = [*upcoming.page.object_list, *past.page.object_list]
        return {"upcoming": upcoming, "past": past,
                "unpaid": unpaid_appointment_ids(a.pk for a in shown)}


class PatientLookupView(RoleRequiredMixin, View):
    """Search as you type in the booking form: at most ten patients, as radio buttons."""

    allowed_roles = FRONT_DESK

    def get(self, request: HttpRequest) -> HttpResponse:
        term = request.GET.get("patient_search", "").strip()[:100]
        chosen = request.GET.get("patient", "")
        selected = Patient.objects.filter(pk=chosen).first() if chosen.isdigit() else None
        matches = queries.alphabetical(queries.search(Patient.objects.all(), term))
        found = list(matches[:10]) if term else []
        if selected is not None:
            found = [selected] + [p for p in found if p.pk != selected.pk][:9]
        return render(request, "patients/_lookup.html", {
            "found": found, "selected": selected, "term": term,
        })


def patient_urls() -> list[URLPattern]:
    return [
        *PatientCrud().urls(),
        path("lookup/", PatientLookupView.as_view(), name="patient-lookup"),
        path("<int:pk>/", PatientView.as_view(), name="patient"),
        *[
            path(f"<int:pk>/{tab}/", PatientView.as_view(tab=tab), name=f"patient-{tab}")
            for tab in ("appointments", "packages", "invoices", "emails")
        ],
        path("<int:pk>/packages/import/", credit_views.ImportView.as_view(),
             name="patient-credits-import"),
        path("<int:pk>/packages/grant/", credit_views.GrantView.as_view(),
             name="patient-credits-grant"),
        path("<int:pk>/packages/lots/<int:lot>/adjust/", credit_views.AdjustView.as_view(),
             name="patient-credits-adjust"),
        path("<int:pk>/packages/lots/<int:lot>/extend/", credit_views.ExtendView.as_view(),
             name="patient-credits-extend"),
    ]
