"""HTML: one self-contained page (no script, no external file) with inline SVG charts, print-friendly."""

from __future__ import annotations

from html import escape

from ..i18n import t
from .common import (
    banner_lines,
    institution_cells,
    institution_header,
    institution_name,
    participant_cells,
    participant_header,
    session_title,
    since_label,
    snapshot_label,
)
from .data import CompletionReport

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;margin:2rem;color:#1b1b1b}
h1{font-size:1.5rem;margin:0 0 .25rem}h2{font-size:1.15rem;margin:2rem 0 .5rem}
p.meta{color:#555;margin:.2rem 0}
p.warn{border:2px solid #c00000;color:#c00000;padding:.5rem .75rem;font-weight:bold}
table{border-collapse:collapse;width:100%;font-size:.85rem}
th,td{border:1px solid #bbb;padding:.25rem .4rem;text-align:left;vertical-align:top}
th{background:#eef1f5}td.n{text-align:right}tr.total td{font-weight:bold}
tr.failed td{background:#fde8e8}
svg{max-width:100%;height:auto}svg text{font:12px system-ui,Arial,sans-serif;fill:#1b1b1b}
.charts{display:flex;flex-wrap:wrap;gap:2rem}.charts figure{margin:0;flex:1 1 28rem}
figcaption{font-weight:bold;margin-bottom:.4rem}
@media print{body{margin:1cm;font-size:10pt}h2{break-after:avoid}tr,figure{break-inside:avoid}
thead{display:table-header-group}th{background:#eee!important;-webkit-print-color-adjust:exact;print-color-adjust:exact}}
"""

BAR_COLOUR = "#2f6db5"  # dark enough to stay readable printed in greyscale


def _bar_chart(items: list[tuple[str, float | None, str]], title: str) -> str:
    """Horizontal bars (label, share 0..1, value text) as inline SVG; readable without colour."""
    # text_w holds the value text, e.g. "72 % (29/40)" or "présence non suivie", without clipping.
    label_w, bar_w, text_w, row_h = 220, 300, 160, 22
    height = row_h * len(items) + 10
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {label_w + bar_w + text_w} {height}" '
             f'role="img" aria-label="{escape(title)}">']
    for i, (label, share, text) in enumerate(items):
        y = 5 + i * row_h
        short = label if len(label) <= 32 else label[:31] + "…"
        parts.append(f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end">{escape(short)}</text>')
        parts.append(f'<rect x="{label_w}" y="{y + 3}" width="{bar_w}" height="{row_h - 6}" fill="none" stroke="#999"/>')
        if share:
            parts.append(f'<rect x="{label_w}" y="{y + 3}" width="{share * bar_w:.1f}" height="{row_h - 6}" '
                         f'fill="{BAR_COLOUR}"/>')
        parts.append(f'<text x="{label_w + bar_w + 6}" y="{y + 15}">{escape(text)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _pct(share: float | None) -> str:
    return "—" if share is None else f"{share * 100:.0f} %"


def _table(header: list[str], rows: list[tuple[list[str], str]]) -> str:
    head = "".join(f'<th scope="col">{escape(h)}</th>' for h in header)
    body = []
    for cells, css in rows:
        tds = "".join(f'<td class="n">{escape(c)}</td>' if c.replace(",", "").replace(".", "").isdigit()
                      else f"<td>{escape(c)}</td>" for c in cells)
        body.append(f'<tr class="{css}">{tds}</tr>' if css else f"<tr>{tds}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def render_html(report: CompletionReport, *, lang: str = "fr") -> bytes:
    """The report as a single HTML page."""
    snap = report.snapshot
    inst_items = [(institution_name(i.institution, lang), i.rate, f"{_pct(i.rate)} ({i.completed}/{i.enrolled})")
                  for i in report.institutions]
    sess_items = []
    for n, s in enumerate(report.sessions):
        # Attended over those whose attendance is known (a session not yet taken has none: no bar).
        share = report.totals.session_rate(n) if s.tracked else None
        known = report.totals.marked[n] if report.totals.marked else 0
        text = (f"{_pct(share)} ({report.totals.attended[n]}/{known})" if s.tracked and known
                else t("rep_not_tracked", lang) if not s.tracked else "—")
        sess_items.append((session_title(report, n, lang), share, text))
    warnings = "".join(f'<p class="warn">{escape(line)}</p>' for line in banner_lines(report, lang))
    participants = _table(
        participant_header(report, lang),
        [(participant_cells(p, lang), "failed" if p.status == "failed" else "") for p in report.participants],
    )
    institutions = _table(
        institution_header(report, lang),
        [(institution_cells(i, lang), "") for i in report.institutions]
        + [(institution_cells(report.totals, lang, total=True), "total")],
    )
    title = f"{t('rep_title', lang)} – {snap.programme_title}"
    page = f"""<!DOCTYPE html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title>
<style>{STYLE}</style>
</head>
<body>
<h1>{escape(title)}</h1>
<p class="meta">{escape(snapshot_label(report, lang))}</p>
<p class="meta">{escape(since_label(report, lang))}</p>
{warnings}
<div class="charts">
<figure><figcaption>{escape(t("rep_chart_institutions", lang))}</figcaption>{_bar_chart(inst_items, t("rep_chart_institutions", lang))}</figure>
<figure><figcaption>{escape(t("rep_chart_sessions", lang))}</figcaption>{_bar_chart(sess_items, t("rep_chart_sessions", lang))}</figure>
</div>
<h2>{escape(t("rep_institutions", lang))}</h2>
{institutions}
<h2>{escape(t("rep_participants", lang))}</h2>
{participants}
</body>
</html>
"""
    return page.encode("utf-8")
