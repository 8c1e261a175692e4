"""The Jinja2 environments the reports are rendered with, and the pieces HTML cells are made of.

Templates live in ``templates/`` beside this module (shipped as package data). Two environments:

* ``html``: autoescape on; every value a template prints is redacted first (``finalize``), and
  ``None`` prints as nothing. Only ``Markup`` passes unescaped: the charts' SVG, whose text was
  escaped piece by piece in ``odin_drills.reports.charts``.
* ``markdown``: no escaping (Markdown has none to give), but every printed string is redacted, as
  journal text always was in reports.

Journal text only ever reaches a template as a variable, never as template source, so ``{{ 7*7 }}``
in a journal is shown as written, not evaluated.

An HTML table cell or summary value is *rich text*: a string, a ``Piece`` (a badge, a link, bold
text ...), or a list of them. Python decides what is shown and in which colour; the ``rich`` macro
in ``templates/macros.html.j2`` decides the markup.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, NamedTuple

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from odin_drills.reports.formatting import DECISION_COLOURS, GREY, STATUS_COLOURS, num
from odin_drills.steps.redact import redact_text

TEMPLATES = Path(__file__).with_name("templates")


def _finalize_html(value: Any) -> Any:
    if value is None:
        return ""
    if hasattr(value, "__html__"):
        return value
    return redact_text(str(value)).replace("\x00", "\ufffd")


def _finalize_markdown(value: Any) -> Any:
    return redact_text(value) if isinstance(value, str) else value


@lru_cache(maxsize=None)
def environment(kind: Literal["html", "markdown"]) -> Environment:
    html = kind == "html"
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=html,
        finalize=_finalize_html if html else _finalize_markdown,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,
    )


def render(template: str, **context: Any) -> str:
    """Render ``templates/<template>`` (``*.html.j2`` autoescaped, ``*.md.j2`` not)."""
    kind = "html" if template.endswith(".html.j2") else "markdown"
    return environment(kind).get_template(template).render(**context)


# ---------------------------------------------------------------- rich text for HTML cells

class Piece(NamedTuple):
    """One styled bit of a cell; ``kind`` names its markup in the ``piece`` macro."""

    kind: str  # badge | big | decision | code | b | muted | note | small | link | same | br | pass | fail
    text: Any = ""
    colour: str = ""
    href: str = ""


class Cell(NamedTuple):
    """A table cell with a CSS class (``n`` numbers, ``t`` times, ``why`` reasons)."""

    cls: str
    content: Any


BR = Piece("br")


def badge(text: Any, colour: str, big: bool = False) -> Piece:
    return Piece("big" if big else "badge", str(text), colour)


def decision_badge(decision: Any) -> Piece | str:
    """A decision as a coloured badge; known decisions by class (compact: hundreds of rows carry one)."""
    if not decision:
        return "–"
    if isinstance(decision, str) and decision in DECISION_COLOURS:
        return Piece("decision", decision)
    return badge(decision, GREY)


def status_badge(status: Any) -> Piece | str:
    if status is None:
        return "–"
    return badge(status, STATUS_COLOURS.get(str(status), GREY))


def delivery_badge(status: Any) -> Piece | str:
    """A message's status: green when delivered (ok, sent, 2xx), red when not, grey when unknown."""
    if status is None or status == "":
        return "–"
    lowered = str(status).lower()
    code = num(status)
    if code is not None:
        colour = "#43a047" if 200 <= code < 300 else "#c62828"
    elif lowered in ("ok", "sent", "delivered", "posted", "accepted", "queued"):
        colour = "#43a047"
    elif lowered in ("failed", "error", "rejected", "bounced", "timeout"):
        colour = "#c62828"
    else:
        colour = "#78909c"
    return badge(status, colour)
