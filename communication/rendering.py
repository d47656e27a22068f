"""The one renderer of practice-edited email text: `{{ name }}` from an allow-list, and
light formatting (paragraphs, **bold**, links). Nothing in the text is ever evaluated:
no Django or Jinja template, no str.format, no attribute lookup. Values are plain strings
from the allow-list, escaped in the HTML part and left intact in the text part.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping

from django.utils.html import escape
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
# Everything that looks like template syntax of any kind, in the order it is checked.
SUSPECT = re.compile(
    r"\{%.*?%\}"  # Django/Jinja tags
    r"|\{#.*?#\}"  # template comments
    r"|\{\{.*?\}\}"  # double braces: only a bare allowed name passes
    r"|<%.*?%>"  # ERB/ASP style
    r"|%\([^)\s]*\)[#0 +-]*\d*(?:\.\d+)?[a-zA-Z]"  # %(name)s format codes
    r"|[{}]",  # any other brace: {0.__class__}, ${x}, #{x}, {}
    re.DOTALL,
)
# Sentinels stand in for placeholders while the template's own formatting is applied,
# so that a value can never become formatting. Private-use characters; stripped from input.
OPEN, CLOSE = "\ue000", "\ue001"
SENTINEL = re.compile(OPEN + r"(\d+)" + CLOSE)
MAX_TOKEN = 60


def _shown(token: str) -> str:
    token = " ".join(token.split())
    return token if len(token) <= MAX_TOKEN else token[: MAX_TOKEN - 1] + "…"


def _stray_brace_token(text: str, at: int) -> str:
    """The whole of a `{…}` construct when it closes on the same line, else the word."""
    if text[at] == "{":
        end = text.find("}", at)
        newline = text.find("\n", at)
        if end != -1 and (newline == -1 or end < newline) and end - at < 100:
            start = at - 1 if at > 0 and text[at - 1] in "$#" else at
            return text[start : end + 1]
    start, end = at, at + 1
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    while end < len(text) and not text[end].isspace():
        end += 1
    return text[start:end]


def problems(text: str, allowed: Iterable[str]) -> list[str]:
    """Why the text cannot be saved: one message per offending token, naming it."""
    allowed = frozenset(allowed)
    found: list[str] = []
    for match in SUSPECT.finditer(text):
        token = match.group(0)
        if token in ("{", "}"):
            message = _(
                "Braces may only surround a placeholder, like {{ patient_first_name }}: %(token)s"
            ) % {"token": _shown(_stray_brace_token(text, match.start()))}
        elif token.startswith("{%"):
            message = _("Template tags are not allowed: %(token)s") % {"token": _shown(token)}
        elif token.startswith("{#"):
            message = _("Comments are not allowed: %(token)s") % {"token": _shown(token)}
        elif token.startswith("<%"):
            message = _("Template tags are not allowed: %(token)s") % {"token": _shown(token)}
        elif token.startswith("%("):
            message = _("Format codes are not allowed: %(token)s") % {"token": _shown(token)}
        else:
            message = _double_brace_problem(token, allowed)
            if not message:
                continue
        if message not in found:
            found.append(message)
    return found


def _double_brace_problem(token: str, allowed: frozenset[str]) -> str:
    valid = PLACEHOLDER.fullmatch(token)
    if valid and valid.group(1) in allowed:
        return ""
    inner = token[2:-2]
    shown = {"token": _shown(token)}
    if valid:
        return _("Unknown placeholder %(token)s: use one of the placeholders listed beside "
                 "the text.") % shown
    if "." in inner or "[" in inner:
        return _("Attribute access is not allowed: %(token)s") % shown
    if "|" in inner:
        return _("Filters are not allowed: %(token)s") % shown
    return _("Only a placeholder name may stand between double braces: %(token)s") % shown


def _with_sentinels(template: str, values: Mapping[str, str]) -> tuple[str, list[str]]:
    """Replace each known placeholder by a numbered sentinel; unknown ones stay text."""
    template = template.replace(OPEN, "").replace(CLOSE, "").replace("\r\n", "\n")
    slots: list[str] = []

    def slot(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            return match.group(0)
        slots.append(str(values[name]))
        return f"{OPEN}{len(slots) - 1}{CLOSE}"

    return PLACEHOLDER.sub(slot, template), slots


def _fill(text: str, slots: list[str], transform: Callable[[str], str]) -> str:
    return SENTINEL.sub(lambda m: transform(slots[int(m.group(1))]), text)


def render_subject(template: str, values: Mapping[str, str]) -> str:
    """One header line: values are inserted as text, line breaks flattened."""
    text, slots = _with_sentinels(template, values)
    return " ".join(_fill(text, slots, str).split())


LINK = re.compile(
    r"\[(?P<label>[^\]\n]+)\]\((?P<url>(?:https?://|mailto:)[^\s()<>\"" + OPEN + CLOSE + r"]+)\)"
    r"|(?P<bare>https?://[^\s<>\"" + OPEN + CLOSE + r"]+)"
)
BOLD = re.compile(r"\*\*(?=\S)([^\n]+?)(?<=\S)\*\*")
TRAILING = ".,;:!?)"


def _split_trailing(url: str) -> tuple[str, str]:
    stripped = url.rstrip(TRAILING)
    return stripped, url[len(stripped):]


def render_text(template: str, values: Mapping[str, str]) -> str:
    """The plain-text part: formatting markers dropped, links as `label (url)`."""
    text, slots = _with_sentinels(template, values)

    def link(match: re.Match[str]) -> str:
        if match.group("bare"):
            return match.group(0)
        label, url = match.group("label"), match.group("url")
        return url if label == url else f"{label} ({url})"

    text = LINK.sub(link, text)
    text = BOLD.sub(r"\1", text)
    return _fill(text, slots, str).strip() + "\n"


def render_html(template: str, values: Mapping[str, str]) -> SafeString:
    """The HTML part's body: the template's text escaped and formatted, values escaped."""
    text, slots = _with_sentinels(template, values)
    text = escape(text)

    def link(match: re.Match[str]) -> str:
        if match.group("bare"):
            url, tail = _split_trailing(match.group("bare"))
            return f'<a href="{url}">{url}</a>{tail}'
        return f'<a href="{match.group("url")}">{match.group("label")}</a>'

    text = LINK.sub(link, text)
    text = BOLD.sub(r"<strong>\1</strong>", text)
    paragraphs = [p.strip("\n") for p in re.split(r"\n[ \t]*\n", text.strip()) if p.strip()]
    html = "\n".join("<p>" + "<br>\n".join(p.split("\n")) + "</p>" for p in paragraphs)
    # Safe by construction: the template text was escaped above, every value is escaped
    # here, and the only markup is what this function wrote.
    return SafeString(_fill(html, slots, escape))
