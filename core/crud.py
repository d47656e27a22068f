"""One generic implementation of list, create, edit and delete screens.

A screen is a `Crud` configuration (model, form, columns, search); `Crud.urls()` gives its
four URLs. Lists answer HTMX requests with just the table; saves go through a service with
audit and optimistic concurrency. A screen may archive what is still in use instead of
deleting it (`archive_field`), and a form may show hints that follow the input live
(`live_hint_fields`, answered by the screen's `hints/` URL). A read-only screen (a log)
sets `can_add`/`can_edit` off and opens each row in a detail view; an editor may add a
side panel (`aside_template`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import models
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import URLPattern, path, reverse
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.views import View

from . import audit, services
from .roles import Role, RoleRequiredMixin, has_role

Text = str | Promise  # plain or lazily translated


class ConcurrencyModelForm(forms.ModelForm):  # type: ignore[type-arg]
    """A model form that remembers what the user saw, so a stale save can be refused."""

    _fingerprint = forms.CharField(widget=forms.HiddenInput, required=False)

    #: fields under which `live_hints()` shows a line that follows the input as it is typed
    live_hint_fields: ClassVar[tuple[str, ...]] = ()
    #: a heading shown above a field: {field name: heading}
    section_headings: ClassVar[dict[str, Text]] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.is_bound and self.instance.pk is not None:
            seen = services.form_snapshot(self, self.instance)
            self.initial["_fingerprint"] = audit.fingerprint(seen)

    def live_hints(self) -> dict[str, str]:
        """{field name: hint} computed from what the form holds now; may be partial input."""
        return {}

    def current_value(self, name: str) -> Any:
        """The field's value as typed so far (None while invalid), or its initial value."""
        field = self.fields[name]
        if not self.is_bound:
            return self.get_initial_for_field(field, name)
        raw = field.widget.value_from_datadict(self.data, self.files, self.add_prefix(name))
        try:
            return field.clean(raw)
        except ValidationError:
            return None


@dataclass(frozen=True)
class Column:
    field: str
    label: Text
    numeric: bool = False
    link: bool = False
    template: str = ""

    def value(self, obj: Any) -> Any:
        value: Any = obj
        for part in self.field.split("__"):
            value = getattr(value, part, None)
            if callable(value):
                value = value()
        return value


class Crud:
    """Configuration of one settings screen; subclass and set the attributes."""

    model: ClassVar[type[models.Model]]
    form_class: ClassVar[type[forms.ModelForm]]  # type: ignore[type-arg]
    name: ClassVar[str]
    columns: ClassVar[list[Column]]
    nav: ClassVar[str] = ""
    search_fields: ClassVar[tuple[str, ...]] = ()
    ordering: ClassVar[tuple[str, ...]] = ("pk",)
    select_related: ClassVar[tuple[str, ...]] = ()
    prefetch_related: ClassVar[tuple[Any, ...]] = ()
    roles: ClassVar[tuple[str, ...]] = (Role.ADMIN,)
    #: roles that may see the list without managing (empty: the same as `roles`)
    list_roles: ClassVar[tuple[str, ...]] = ()
    #: the page frame: the Settings menu, or "crud/main_frame.html" for screens outside it
    frame_template: ClassVar[str] = "settings/base.html"
    paginate_by: ClassVar[int] = 25
    can_delete: ClassVar[bool] = True
    title: ClassVar[Text] = ""
    add_label: ClassVar[Text] = ""
    empty_text: ClassVar[Text] = ""
    delete_text: ClassVar[Text] = ""
    intro_template: ClassVar[str] = ""
    row_extra_template: ClassVar[str] = ""
    #: inside the form, above the fields (e.g. a duplicate warning with its checkbox)
    form_top_template: ClassVar[str] = ""
    #: when set (e.g. "is_active"), delete archives an object that anything still refers to
    archive_field: ClassVar[str] = ""
    #: what an archived object still does and no longer does, told before and after archiving
    archive_text: ClassVar[Text] = ""
    can_add: ClassVar[bool] = True
    #: False: rows open `detail_template` read-only instead of the form
    can_edit: ClassVar[bool] = True
    detail_template: ClassVar[str] = ""
    #: above and beside the form (e.g. language tabs; a preview); see `form_context()`
    form_intro_template: ClassVar[str] = ""
    aside_template: ClassVar[str] = ""
    #: URL name of the list when it must differ from "<name>-list"
    list_name: ClassVar[str] = ""

    def queryset(self) -> QuerySet[Any]:
        qs = self.model._default_manager.all()
        if self.select_related:
            qs = qs.select_related(*self.select_related)
        if self.prefetch_related:
            qs = qs.prefetch_related(*self.prefetch_related)
        return qs.order_by(*self.ordering)

    def visible(self, qs: QuerySet[Any], request: HttpRequest) -> QuerySet[Any]:
        """The rows this request's user may see at all."""
        return qs

    def search(self, qs: QuerySet[Any], term: str) -> QuerySet[Any]:
        query = Q()
        for field in self.search_fields:
            query |= Q(**{f"{field}__icontains": term})
        return qs.filter(query)

    def form_kwargs(self, request: HttpRequest) -> dict[str, Any]:
        return {}

    def save(self, form: forms.ModelForm, *, by: Any) -> models.Model:  # type: ignore[type-arg]
        return services.save_form(form, by=by)

    def deletable(self, obj: Any) -> bool:
        """Whether the row offers delete (when the screen does)."""
        return True

    def delete(self, obj: Any, *, by: Any) -> str:
        """Delete (or retire) the object; return the message for the user."""
        if not self.archive_field:
            services.delete_object(obj, by=by)
            return _("%(object)s has been deleted.") % {"object": obj}
        outcome, found = services.delete_or_archive(obj, field=self.archive_field, by=by)
        if outcome == services.DeleteOutcome.DELETED:
            return _("%(object)s has been deleted.") % {"object": obj}
        return " ".join([
            _("%(object)s is used by %(uses)s, so it has been archived instead of deleted.")
            % {"object": obj, "uses": services.describe_references(found)},
            str(self.archive_text),
        ]).strip()

    def delete_consequence(self, obj: Any) -> dict[str, Any]:
        """What the confirmation page says will happen, and the button that does it."""
        found = services.references(obj) if self.archive_field else []
        if not found:
            return {"title": _("Delete %(object)s?") % {"object": obj},
                    "text": self.delete_text or _("This cannot be undone."),
                    "button": _("Delete"), "allowed": True}
        uses = services.describe_references(found)
        if not getattr(obj, self.archive_field):
            return {"title": _("%(object)s cannot be deleted") % {"object": obj},
                    "text": _("It is archived and still used by %(uses)s.") % {"uses": uses},
                    "button": "", "allowed": False}
        return {
            "title": _("Archive %(object)s?") % {"object": obj},
            "text": " ".join([
                _("It is used by %(uses)s, so it will be archived instead of deleted.")
                % {"uses": uses},
                str(self.archive_text),
            ]).strip(),
            "button": _("Archive"), "allowed": True,
        }

    def form_context(self, request: HttpRequest, obj: Any, form: Any) -> dict[str, Any]:
        """Extra context for the form page (and its side panel)."""
        return {}

    def detail_context(self, request: HttpRequest, obj: Any) -> dict[str, Any]:
        """Extra context for the read-only detail page."""
        return {}

    def extra_urls(self) -> list[URLPattern]:
        """Further URLs of the screen (actions on one object, previews)."""
        return []

    @property
    def row_action(self) -> str:
        return "edit" if self.can_edit else "detail"

    def saved_message(self, obj: Any, created: bool) -> str:
        return _("%(kind)s ‘%(object)s’ has been saved.") % {
            "kind": self.model._meta.verbose_name.capitalize(),  # type: ignore[union-attr]
            "object": obj,
        }

    def url_name(self, action: str) -> str:
        if action == "list" and self.list_name:
            return self.list_name
        return f"{self.name}-{action}"

    def link_url(self, obj: Any) -> str:
        """Where a row's link column leads."""
        return self.url(self.row_action, obj)

    def success_url(self, obj: Any) -> str:
        """Where a successful save leads."""
        return self.url("list")

    def url(self, action: str, obj: Any = None) -> str:
        if obj is None:
            return reverse(self.url_name(action))
        return reverse(self.url_name(action), args=[obj.pk])

    def urls(self) -> list[URLPattern]:
        views: list[tuple[str, str, type[View]]] = [("", "list", CrudListView)]
        if self.can_add:
            views.append(("add/", "add", CrudFormView))
        if self.can_edit:
            views.append(("<int:pk>/", "edit", CrudFormView))
        else:
            views.append(("<int:pk>/", "detail", CrudDetailView))
        if self.can_delete:
            views.append(("<int:pk>/delete/", "delete", CrudDeleteView))
        if self.has_live_hints:
            views.append(("hints/", "hints", CrudHintsView))
        return [
            path(route, view.as_view(crud=self), name=self.url_name(action))
            for route, action, view in views
        ] + self.extra_urls()

    @property
    def has_live_hints(self) -> bool:
        form_class = getattr(self, "form_class", None)  # read-only screens have none
        return bool(getattr(form_class, "live_hint_fields", ()))

    def context(self) -> dict[str, Any]:
        meta = self.model._meta
        return {
            "crud": self,
            "nav": self.nav or self.name,
            "title": self.title or str(meta.verbose_name_plural).capitalize(),
            "add_label": self.add_label or _("+ Add %(kind)s") % {"kind": meta.verbose_name},
            "list_url": self.url("list"),
            "add_url": self.url("add") if self.can_add else "",
        }


class CrudView(RoleRequiredMixin, View):
    crud: Crud | None = None

    @property
    def config(self) -> Crud:
        assert self.crud is not None
        return self.crud

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.allowed_roles = self.config.roles
        return super().dispatch(request, *args, **kwargs)

    def rows(self) -> QuerySet[Any]:
        return self.config.visible(self.config.queryset(), self.request)


class CrudListView(CrudView):
    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.allowed_roles = self.config.list_roles or self.config.roles
        return RoleRequiredMixin.dispatch(self, request, *args, **kwargs)

    def get(self, request: HttpRequest) -> HttpResponse:
        crud = self.config
        term = request.GET.get("q", "").strip()[:100]
        qs = self.rows()
        if term:
            qs = crud.search(qs, term)
        page = Paginator(qs, crud.paginate_by).get_page(request.GET.get("page"))
        rows = [
            {"obj": obj, "cells": [(col, col.value(obj)) for col in crud.columns],
             "deletable": crud.can_delete and crud.deletable(obj)}
            for obj in page.object_list
        ]
        query = request.GET.copy()
        query.pop("page", None)
        context = crud.context() | {
            "page": page, "rows": rows, "q": term, "query": query.urlencode(),
            "can_manage": has_role(request.user, *crud.roles),
        }
        template = "crud/_table.html" if request.headers.get("HX-Request") else "crud/list.html"
        return render(request, template, context)


class CrudFormView(CrudView):
    def get_object(self, pk: int | None) -> Any:
        if pk is None:
            return self.config.model()
        return get_object_or_404(self.rows(), pk=pk)

    def make_form(self, request: HttpRequest, obj: Any) -> forms.ModelForm:  # type: ignore[type-arg]
        kwargs = self.config.form_kwargs(request) | {"instance": obj}
        if request.method == "POST":
            kwargs |= {"data": request.POST, "files": request.FILES}
        elif obj.pk is None:
            # add/?package=3 starts the form with that package chosen
            fields = self.config.form_class.base_fields
            given = {k: v for k, v in request.GET.items() if k in fields and not k.startswith("_")}
            kwargs["initial"] = kwargs.get("initial", {}) | given
        return self.config.form_class(**kwargs)

    def render_form(self, request: HttpRequest, form: Any, obj: Any, status: int = 200) -> Any:
        crud = self.config
        context = crud.context() | {
            "form": form,
            "object": obj,
            "creating": obj.pk is None,
            "history": audit.history(obj)[:50] if obj.pk is not None else [],
            "delete_url": crud.url("delete", obj)
            if obj.pk and crud.can_delete and crud.deletable(obj) else "",
            "cancel_url": crud.success_url(obj) if obj.pk else crud.url("list"),
            "hints_url": crud.url("hints") if crud.has_live_hints else "",
            "live_hints": form.live_hints() if hasattr(form, "live_hints") else {},
        }
        context |= crud.form_context(request, obj, form)
        return render(request, "crud/form.html", context, status=status)

    def get(self, request: HttpRequest, pk: int | None = None) -> HttpResponse:
        obj = self.get_object(pk)
        return self.render_form(request, self.make_form(request, obj), obj)

    def post(self, request: HttpRequest, pk: int | None = None) -> HttpResponse:
        obj = self.get_object(pk)
        form = self.make_form(request, obj)
        if form.is_valid():
            try:
                saved = self.config.save(form, by=request.user)
            except services.ConcurrentEditError as exc:
                form.add_error(None, str(exc))
            except forms.ValidationError as exc:
                form.add_error(None, exc)
            else:
                messages.success(request, self.config.saved_message(saved, pk is None))
                return HttpResponseRedirect(self.config.success_url(saved))
        return self.render_form(request, form, obj, status=422)


class CrudHintsView(CrudView):
    """The live hints of a form for what the user has typed so far (HTMX, out-of-band)."""

    def get(self, request: HttpRequest) -> HttpResponse:
        crud = self.config
        form = crud.form_class(data=request.GET, **crud.form_kwargs(request),
                               instance=crud.model())
        context = {"form": form, "live_hints": form.live_hints()}  # type: ignore[attr-defined]
        return render(request, "crud/_live_hints.html", context)


class CrudDetailView(CrudView):
    """A read-only page of one object, for screens that show a log."""

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        crud = self.config
        obj = get_object_or_404(crud.queryset(), pk=pk)
        context = crud.context() | {"object": obj, "history": audit.history(obj)[:50]}
        context |= crud.detail_context(request, obj)
        return render(request, crud.detail_template, context)


class CrudDeleteView(CrudView):
    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        obj = get_object_or_404(self.rows(), pk=pk)
        context = self.config.context() | {
            "object": obj, "consequence": self.config.delete_consequence(obj),
        }
        return render(request, "crud/confirm_delete.html", context)

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        obj = get_object_or_404(self.rows(), pk=pk)
        try:
            message = self.config.delete(obj, by=request.user)
        except services.ObjectInUseError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, message)
        return HttpResponseRedirect(self.config.url("list"))
