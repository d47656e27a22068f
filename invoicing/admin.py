# Invoices register their (read-only) admin in their own module.
from . import invoice_admin  # noqa: F401
