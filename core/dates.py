"""Short dates as the practice writes them: "1 dec. 2026" (UX.md).

The date format character N takes Django's "abbrev. month" names; the Dutch catalogue
(locale/nl) gives them the dot Dutch writing uses (Django's own has "dec"). They are named
here so that makemessages keeps them in our catalogue.
"""

from django.utils.translation import pgettext_lazy

SHORT_DATE = "j N Y"
SHORT_DATETIME = "j N Y H:i"

MONTH_ABBREVIATIONS = (
    pgettext_lazy("abbrev. month", "Jan."), pgettext_lazy("abbrev. month", "Feb."),
    pgettext_lazy("abbrev. month", "March"), pgettext_lazy("abbrev. month", "April"),
    pgettext_lazy("abbrev. month", "May"), pgettext_lazy("abbrev. month", "June"),
    pgettext_lazy("abbrev. month", "July"), pgettext_lazy("abbrev. month", "Aug."),
    pgettext_lazy("abbrev. month", "Sept."), pgettext_lazy("abbrev. month", "Oct."),
    pgettext_lazy("abbrev. month", "Nov."), pgettext_lazy("abbrev. month", "Dec."),
)
