"""Attachments of outgoing emails, and the providers that make them at send time.

An attachment is stored bytes (an .ics made at queue time), a file in storage, or a
*provider*: a function registered with `@attachment_provider` and an object's key, called by
the worker when it builds the message, so that e.g. the invoice PDF is rendered first if it
is not there yet. The outbox stores the provider's dotted path; only functions carrying the
decorator can be called that way, so a row can never name an arbitrary function.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from django.core.files.storage import default_storage
from django.utils.module_loading import import_string

MARK = "_flux_attachment_provider"


@dataclass(frozen=True)
class AttachmentFile:
    """What a provider returns: the file as it goes out."""

    filename: str
    content: bytes
    mimetype: str = "application/octet-stream"


Provider = Callable[[str], AttachmentFile]
P = TypeVar("P", bound=Callable[..., AttachmentFile])


def attachment_provider(func: P) -> P:
    """Allow the outbox to call `func(object_id: str) -> AttachmentFile` at send time."""
    setattr(func, MARK, True)
    return func


def provider_path(func: Callable[..., AttachmentFile]) -> str:
    if not getattr(func, MARK, False):
        raise ValueError(f"{func!r} is not decorated with @attachment_provider")
    return f"{func.__module__}.{func.__qualname__}"


def load_provider(path: str) -> Provider:
    func: Any = import_string(path)
    if not getattr(func, MARK, False):
        raise ValueError(f"{path} is not a registered attachment provider")
    return func  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Attachment:
    """What `queue_email(attachments=[...])` takes; build one with the class methods."""

    provider: str = ""
    object_id: str = ""
    storage_name: str = ""
    content: bytes | None = None
    filename: str = ""
    mimetype: str = ""

    @classmethod
    def provided_by(cls, func: Callable[..., AttachmentFile], object_id: Any) -> Attachment:
        """Made at send time by `func(str(object_id))`."""
        return cls(provider=provider_path(func), object_id=str(object_id))

    @classmethod
    def stored_file(cls, storage_name: str, filename: str = "", mimetype: str = "") -> Attachment:
        """A file in the default storage, read at send time."""
        return cls(storage_name=storage_name, filename=filename, mimetype=mimetype)

    @classmethod
    def data(cls, filename: str, content: bytes, mimetype: str = "") -> Attachment:
        """Bytes kept with the email (small files, such as an .ics)."""
        return cls(content=bytes(content), filename=filename, mimetype=mimetype)


def guess_type(filename: str) -> str:
    return mimetypes.guess_type(filename)[0] or "application/octet-stream"


def produce(row: Any) -> AttachmentFile:
    """The file of one OutgoingAttachment row, made now."""
    if row.provider:
        made = load_provider(row.provider)(row.object_id)
        if not isinstance(made, AttachmentFile):
            raise TypeError(f"{row.provider} returned {type(made).__name__}, not AttachmentFile")
        return made
    if row.storage_name:
        with default_storage.open(row.storage_name, "rb") as handle:
            content = handle.read()
        filename = row.filename or row.storage_name.rsplit("/", 1)[-1]
        return AttachmentFile(filename, content, row.mimetype or guess_type(filename))
    mimetype = row.mimetype or guess_type(row.filename)
    return AttachmentFile(row.filename, bytes(row.content), mimetype)
