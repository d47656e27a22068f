"""Pages of a long list, for screens that show more than one list or that must never fail on a
hand-typed page number."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.paginator import Page, Paginator
from django.http import QueryDict


def page_of(object_list: Any, per_page: int, params: QueryDict, param: str = "page") -> Page:
    """The page that `params[param]` asks for. Like Paginator.get_page ('abc' is the first
    page, past the end the last), except that 0 and below are the first page, not the last."""
    number = params.get(param, "")
    if number.lstrip("-").isdigit() and int(number) < 1:
        number = "1"
    return Paginator(object_list, per_page).get_page(number)


def positions(page: Page) -> range:
    """Where the page's rows sit in its whole list (from 0), for rows fetched apart."""
    if not page.paginator.count:
        return range(0)
    return range(page.start_index() - 1, page.end_index())


def other_params(params: QueryDict, param: str) -> str:
    """The query string without this list's page number, for its page links (which add it)."""
    query = params.copy()
    query.pop(param, None)
    return query.urlencode()


@dataclass(frozen=True)
class Listing:
    """One paged list of a screen: its page, the parameter that picks it, the screen's other
    parameters (kept by its page links) and the id of the element its links swap (HTMX)."""

    page: Page
    param: str
    query: str
    target: str


def listing(object_list: Any, per_page: int, params: QueryDict, *, param: str,
            target: str) -> Listing:
    return Listing(page=page_of(object_list, per_page, params, param),
                   param=param, query=other_params(params, param), target=target)
