from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View

from . import services
from .crud import Column, Crud, CrudFormView
from .forms import PracticeForm, UserForm
from .models import AuditEntry, Practice
from .roles import STAFF_ROLES, AdminRequiredMixin, RoleRequiredMixin


class HomeView(RoleRequiredMixin, View):
    allowed_roles = STAFF_ROLES

    def get(self, request: HttpRequest) -> HttpResponse:
        return redirect("calendar")


class SettingsHomeView(AdminRequiredMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        return render(request, "core/settings_home.html", {"title": _("Settings")})


class PracticeCrud(Crud):
    model = Practice
    form_class = PracticeForm
    name = "practice"
    columns = []
    can_delete = False
    title = gettext_lazy("Practice")

    def url(self, action: str, obj: Any = None) -> str:
        return reverse("practice-edit")

    def saved_message(self, obj: Any, created: bool) -> str:
        return _("The practice details have been saved.")

    def urls(self) -> list[URLPattern]:
        return [path("", PracticeView.as_view(crud=self), name="practice-edit")]


class PracticeView(CrudFormView):
    def get_object(self, pk: int | None) -> Any:
        return Practice.get()


class UserCrud(Crud):
    model = User
    form_class = UserForm
    name = "users"
    columns = [
        Column("username", gettext_lazy("Username"), link=True),
        Column("get_full_name", gettext_lazy("Name")),
        Column("email", gettext_lazy("Email")),
        Column("role_names", gettext_lazy("Role"), template="core/cells/roles.html"),
        Column("is_active", gettext_lazy("Active"), template="core/cells/boolean.html"),
    ]
    search_fields = ("username", "first_name", "last_name", "email")
    ordering = ("-is_active", "username")
    prefetch_related = ("groups",)
    title = gettext_lazy("Users")
    add_label = gettext_lazy("+ Add user")
    empty_text = gettext_lazy("No users yet.")
    delete_text = gettext_lazy(
        "The user can no longer log in. Their name stays on everything they did."
    )

    def delete(self, obj: Any, *, by: Any) -> str:
        services.deactivate_user(obj, by=by)
        return _("User %(user)s has been deactivated.") % {"user": obj.username}


class HistoryView(AdminRequiredMixin, View):
    """The audit log of one object, for administrators."""

    def get(self, request: HttpRequest, label: str, pk: str) -> HttpResponse:
        app_label, _dot, model = label.partition(".")
        entries = AuditEntry.objects.filter(
            app_label=app_label, model=model, object_id=pk
        ).select_related("user")[:200]
        return render(request, "core/history.html", {"entries": entries, "nav": ""})


def practice_logo(request: HttpRequest) -> FileResponse:
    """The logo is public: it appears in emails and on invoices."""
    practice = Practice.get()
    if not practice.logo:
        raise Http404
    return FileResponse(practice.logo.open("rb"))

