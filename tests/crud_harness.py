"""One test harness for every screen built on core.crud: subclass, fill in, and each
screen gets its list, search, create, edit, audit, stale-edit and delete tests."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
from django.db import models
from django.test import Client

from core.audit import history
from core.crud import Crud


@pytest.mark.django_db
class CrudHarness:
    crud: ClassVar[Crud]
    #: text that a list row of `make_object()` shows
    list_text: ClassVar[str]
    #: the field a search finds `make_object()` by, and an edit changes
    search_text: ClassVar[str]

    def make_object(self) -> models.Model:
        raise NotImplementedError

    def valid_data(self) -> dict[str, Any]:
        """POST data for a new object, without the fingerprint (screens that add)."""
        raise NotImplementedError

    def edit_data(self, obj: models.Model) -> dict[str, Any]:
        """POST data that changes `obj` (without the fingerprint; screens that edit)."""
        raise NotImplementedError

    def fingerprint_of(self, client: Client, url: str) -> str:
        response = client.get(url)
        assert response.status_code == 200
        form = response.context["form"]
        return str(form.initial.get("_fingerprint", ""))

    def test_list_shows_rows_and_add_button(self, admin_client: Client) -> None:
        obj = self.make_object()
        response = admin_client.get(self.crud.url("list"))
        assert response.status_code == 200
        body = response.content.decode()
        assert self.list_text in body
        if self.crud.can_add:
            assert self.crud.url("add") in body
        assert self.crud.url(self.crud.row_action, obj) in body

    def test_row_opens(self, admin_client: Client) -> None:
        obj = self.make_object()
        response = admin_client.get(self.crud.url(self.crud.row_action, obj))
        assert response.status_code == 200
        assert str(obj) in response.content.decode()

    def test_search_filters_the_table_for_htmx(self, admin_client: Client) -> None:
        self.make_object()
        if not self.crud.search_fields:
            pytest.skip("screen has no search")
        url = self.crud.url("list")
        hit = admin_client.get(url, {"q": self.search_text}, headers={"HX-Request": "true"})
        miss = admin_client.get(url, {"q": "zzz-no-such-thing"}, headers={"HX-Request": "true"})
        assert self.list_text in hit.content.decode()
        assert "<html" not in hit.content.decode()  # a partial, not the whole page
        assert self.list_text not in miss.content.decode()

    def test_create_saves_and_audits(self, admin_client: Client) -> None:
        if not self.crud.can_add:
            pytest.skip("screen has no add")
        before = self.crud.model._default_manager.count()
        response = admin_client.post(self.crud.url("add"), self.valid_data())
        assert response.status_code == 302, response.context["form"].errors
        assert self.crud.model._default_manager.count() == before + 1
        obj = self.crud.model._default_manager.order_by("-pk").first()
        assert obj is not None
        entry = history(obj).first()
        assert entry is not None and entry.action == "create"
        assert entry.user is not None

    def test_edit_saves_and_records_the_change(self, admin_client: Client) -> None:
        if not self.crud.can_edit:
            pytest.skip("screen is read-only")
        obj = self.make_object()
        url = self.crud.url("edit", obj)
        data = self.edit_data(obj) | {"_fingerprint": self.fingerprint_of(admin_client, url)}
        response = admin_client.post(url, data)
        assert response.status_code == 302, response.context["form"].errors
        entry = history(obj).first()
        assert entry is not None and entry.action == "update" and entry.changes

    def test_stale_edit_is_refused_and_keeps_the_input(self, admin_client: Client) -> None:
        if not self.crud.can_edit:
            pytest.skip("screen is read-only")
        obj = self.make_object()
        url = self.crud.url("edit", obj)
        admin_client.cookies["django_language"] = "en"
        seen = self.fingerprint_of(admin_client, url)
        # Another administrator saves first.
        first = self.edit_data(obj) | {"_fingerprint": seen}
        assert admin_client.post(url, first).status_code == 302
        second = self.valid_data() | {"_fingerprint": seen}
        response = admin_client.post(url, second)
        assert response.status_code == 422
        assert "changed this" in response.content.decode()
        form = response.context["form"]
        assert all(str(form.data.get(k)) == str(v) for k, v in second.items()
                   if not hasattr(v, "read"))

    def test_delete_asks_first(self, admin_client: Client) -> None:
        if not self.crud.can_delete:
            pytest.skip("screen has no delete")
        obj = self.make_object()
        response = admin_client.get(self.crud.url("delete", obj))
        assert response.status_code == 200
        assert str(obj) in response.content.decode()
        assert self.crud.model._default_manager.filter(pk=obj.pk).exists()
