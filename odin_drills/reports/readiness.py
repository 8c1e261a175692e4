"""The readiness review in the migration report: the latest ``readiness`` entry of the journal
(T-0's when it reviewed again, else T-1w's), each item with its status, who attested it and the
evidence. Shared by the Markdown and HTML reports; the journal is the only input."""

from __future__ import annotations

from typing import Any

from odin_drills.reports.formatting import GREY, as_dict, as_list, text
from odin_drills.reports.templating import Cell, Piece, badge
from odin_drills.steps.journal import Entry

STATUS_TEXT = {"met": "met", "attested": "attested", "unmet": "UNMET"}
READINESS_COLOURS = {"met": "#43a047", "attested": "#1565c0", "unmet": "#c62828"}


def readiness_view(entries: list[Entry]) -> dict[str, Any] | None:
    """The latest review's rows and counts; None when the journal has no review."""
    reviews = [e for e in entries if e.kind == "readiness"]
    if not reviews:
        return None
    last = reviews[-1]
    rows = []
    for raw in as_list(last.data.get("items")):
        item = as_dict(raw)
        status = str(item.get("status", ""))
        by = item.get("by")
        rows.append({"id": str(item.get("id", "")), "area": str(item.get("area", "")), "text": str(item.get("text", "")),
                     "status": status, "shown": STATUS_TEXT.get(status, status),
                     "blocking": bool(item.get("blocking")), "how": str(item.get("how", "")),
                     "by": f"{by} ({str(item.get('at', ''))[:16].replace('T', ' ')} UTC)" if by else "",
                     "evidence": text(item.get("evidence"), 600).replace("|", "/").replace("\n", " ")})
    return {"phase": last.phase or "", "time": f"{last.time:%Y-%m-%d %H:%M:%S}", "rows": rows,
            "met": last.data.get("met"), "attested": last.data.get("attested"), "unmet": last.data.get("unmet"),
            "blocking_unmet": [str(i) for i in as_list(last.data.get("blocking_unmet"))], "reviews": len(reviews)}


def readiness_html(entries: list[Entry]) -> dict[str, Any] | None:
    """The HTML report's section: the review's view, one table row per item."""
    view = readiness_view(entries)
    if view is None:
        return None
    view["table"] = [[Piece("code", r["id"]), r["text"] + (" (blocking)" if r["blocking"] else ""),
                      badge(r["shown"], READINESS_COLOURS.get(r["status"], GREY)), r["by"],
                      Cell("why", r["evidence"])] for r in view["rows"]]
    return view
