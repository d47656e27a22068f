"""Floor (b): the floor's statements inside the barest Django view — no middleware, no
sessions, no templates, CONN_MAX_AGE set — served by the same gunicorn as ours:
`gunicorn bench.bare:application`."""

from __future__ import annotations

import os

import dj_database_url
from django.conf import settings

settings.configure(
    DEBUG=False,
    SECRET_KEY=os.environ["SECRET_KEY"],
    ALLOWED_HOSTS=["127.0.0.1"],
    ROOT_URLCONF=__name__,
    MIDDLEWARE=[],
    INSTALLED_APPS=[],
    USE_TZ=True,
    DATABASES={"default": dj_database_url.parse(os.environ["DATABASE_URL"], conn_max_age=60)},
)

from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.http import HttpRequest, HttpResponse  # noqa: E402
from django.urls import path  # noqa: E402

from bench import floors  # noqa: E402


def book(request: HttpRequest) -> HttpResponse:
    with transaction.atomic(), connection.cursor() as cursor:
        booked = floors.book(cursor, int(request.POST["patient"]), request.POST["start"],
                             request.POST["key"])
    return HttpResponse("booked" if booked else "refused", status=200 if booked else 409)


urlpatterns = [path("book/", book)]
application = get_wsgi_application()
