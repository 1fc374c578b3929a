"""``audit --html``: the audit as one self-contained page, charts above the tables.

One HTML document with inline CSS and inline SVG: no script, no font, no image, no link to
anything; a Content-Security-Policy of ``default-src 'none'`` makes the browser refuse any
load a future change might add. Every text that comes from the vault (user names, entity
types, job ids, actions) goes through ``html.escape``. Like every audit view it holds counts,
never an original value.

Three charts: entities per type over time (stacked bars per day, week or month, whichever
keeps at most ``MAX_BUCKETS`` bars), jobs by status and by file type (bars), and the access
log per user, stacked by action. Each chart carries ``data-chart`` and each bar ``data-value``
so a test (or a reader of the source) can check what was drawn.
"""

from __future__ import annotations

import colorsys
import functools
import html
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

from vault.audit._times import sane_time
from vault.audit._totals import AuditListing, AuditReport
from vault.models import JobInfo, LogEntry
from vault.store import JobListRow

MAX_BUCKETS = 40
# Colour-blind-safe palette (Okabe-Ito), then greys.
PALETTE = (
    "#0072b2",
    "#e69f00",
    "#009e73",
    "#cc79a7",
    "#56b4e9",
    "#d55e00",
    "#f0e442",
    "#000000",
    "#7f7f7f",
    "#b0b0b0",
)
_WIDTH = 760

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px auto;
max-width:820px;color:#1b1b1b;background:#fff;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}
.meta{color:#555;margin:0 0 16px}.cards{display:flex;gap:12px;flex-wrap:wrap;margin:12px 0}
.card{border:1px solid #ddd;border-radius:6px;padding:8px 14px;min-width:120px}
.card b{display:block;font-size:20px}
figure{margin:0 0 18px;border:1px solid #e3e3e3;border-radius:6px;padding:10px}
figcaption{font-weight:600;margin-bottom:6px}svg text{font:12px system-ui,sans-serif;fill:#222}
.legend{display:flex;flex-wrap:wrap;gap:4px 14px;margin-top:6px;font-size:12px}
.legend i{display:inline-block;width:10px;height:10px;margin-right:4px;border-radius:2px}
table{border-collapse:collapse;width:100%;font-size:13px;margin-bottom:12px}
th,td{border-bottom:1px solid #e6e6e6;padding:4px 8px;text-align:left}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}.empty{color:#777;font-style:italic}
code{font-size:12px}
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _color(index: int) -> str:
    """Series ``index``'s colour: the palette, then colours spread around the hue circle at
    three lightnesses (golden-angle steps), each different from every earlier one, so a chart
    with many entity types never shows two series alike."""
    return series_colours(index + 1)[index]


@functools.cache
def series_colours(count: int) -> tuple[str, ...]:
    """The first ``count`` series colours, all different."""
    colours = list(PALETTE[:count])
    step = 0
    while len(colours) < count:
        hue = (step * 0.381966) % 1.0  # the golden angle, as a fraction of the circle
        lightness = (0.38, 0.52, 0.66)[step % 3]
        red, green, blue = colorsys.hls_to_rgb(hue, lightness, 0.7)
        colour = f"#{round(red * 255):02x}{round(green * 255):02x}{round(blue * 255):02x}"
        if colour not in colours:
            colours.append(colour)
        step += 1
    return tuple(colours)


def _entered(job: JobInfo | JobListRow) -> float | None:
    """The job's audit time (``JobInfo.audit_time``), for a ``JobListRow`` too."""
    for value in (job.archived_at, job.fetched_at, job.submitted_at, job.created_at):
        if value is not None:
            return sane_time(value)
    return None


def _utc(value: float | None) -> str:
    value = sane_time(value)
    if value is None:
        return "-"
    return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M")


# --------------------------------------------------------------------------- time buckets


def _bucket_start(moment: datetime, unit: str) -> datetime:
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if unit == "day":
        return day
    if unit == "week":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def _next(start: datetime, unit: str) -> datetime:
    if unit == "day":
        return start + timedelta(days=1)
    if unit == "week":
        return start + timedelta(days=7)
    return (start + timedelta(days=32)).replace(day=1)


def _buckets(times: Sequence[float]) -> tuple[str, list[datetime]]:
    """The finest unit (day, week, month) giving at most MAX_BUCKETS consecutive buckets."""
    first = datetime.fromtimestamp(min(times), UTC)
    last = datetime.fromtimestamp(max(times), UTC)
    for unit in ("day", "week", "month"):
        starts = [_bucket_start(first, unit)]
        while _next(starts[-1], unit) <= last and len(starts) <= MAX_BUCKETS:
            starts.append(_next(starts[-1], unit))
        if len(starts) <= MAX_BUCKETS or unit == "month":
            return unit, starts
    raise AssertionError("unreachable")  # pragma: no cover


def _label(start: datetime, unit: str) -> str:
    return start.strftime("%Y-%m") if unit == "month" else start.strftime("%m-%d")


# --------------------------------------------------------------------------- charts


def _legend(keys: Sequence[str]) -> str:
    items = "".join(
        f'<span><i style="background:{_color(i)}"></i>{_e(k)}</span>' for i, k in enumerate(keys)
    )
    return f'<div class="legend">{items}</div>'


def _empty_chart(name: str, caption: str, why: str) -> str:
    return (
        f'<figure data-chart="{name}"><figcaption>{_e(caption)}</figcaption>'
        f'<p class="empty">{_e(why)}</p></figure>'
    )


def _entities_over_time(jobs: Sequence[JobInfo | JobListRow], types: Sequence[str]) -> str:
    caption = "Entities per type over time"
    dated = [(_entered(job), job) for job in jobs if job.entity_counts]
    times = [t for t, _ in dated if t is not None]
    if not times:
        return _empty_chart("entities-over-time", caption, "no entities in the selected jobs")
    unit, starts = _buckets(times)
    index = {start: i for i, start in enumerate(starts)}
    sums: list[Counter[str]] = [Counter() for _ in starts]
    for when, job in dated:
        if when is None:
            continue
        start = _bucket_start(datetime.fromtimestamp(when, UTC), unit)
        sums[index[start]].update(job.entity_counts)
    top = max(sum(c.values()) for c in sums) or 1
    height, left, bottom, top_pad = 220, 44, 28, 10
    plot_w, plot_h = _WIDTH - left - 10, height - bottom - top_pad
    slot = plot_w / len(starts)
    bar_w = min(56.0, max(2.0, slot * 0.72))
    parts = [_axis(left, top_pad, plot_w, plot_h, top)]
    every = max(1, len(starts) // 10)
    for i, (start, counts) in enumerate(zip(starts, sums, strict=True)):
        x = left + i * slot + (slot - bar_w) / 2
        y = float(top_pad + plot_h)
        for t_index, name in enumerate(types):
            value = counts.get(name, 0)
            if not value:
                continue
            h = value / top * plot_h
            y -= h
            parts.append(
                f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" '
                f'height="{h:.1f}" fill="{_color(t_index)}" data-value="{value}">'
                f"<title>{_e(name)} {_e(_label(start, unit))}: {value}</title></rect>"
            )
        if i % every == 0:
            parts.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{height - 10}" text-anchor="middle">'
                f"{_e(_label(start, unit))}</text>"
            )
    svg = (
        f'<svg role="img" aria-label="{_e(caption)}" width="{_WIDTH}" height="{height}" '
        f'viewBox="0 0 {_WIDTH} {height}">{"".join(parts)}</svg>'
    )
    return (
        f'<figure data-chart="entities-over-time"><figcaption>{_e(caption)} '
        f"(per {unit}, by when each job entered the vault)</figcaption>{svg}"
        f"{_legend(types)}</figure>"
    )


def _axis(left: int, top: int, width: float, height: float, maximum: int) -> str:
    lines = [
        f'<line x1="{left}" y1="{top + height}" x2="{left + width}" y2="{top + height}" '
        'stroke="#999"/>'
    ]
    for k in range(1, 5):
        y = top + height - height * k / 4
        lines.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{left + width}" y2="{y:.1f}" stroke="#eee"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{round(maximum * k / 4)}</text>"
        )
    return "".join(lines)


def _bars(name: str, caption: str, rows: Sequence[tuple[str, Mapping[str, int]]]) -> str:
    """Horizontal bars, one per row label, stacked by the keys of its mapping."""
    keys = list(dict.fromkeys(k for _, counts in rows for k in counts))
    totals = [sum(counts.values()) for _, counts in rows]
    if not rows or not any(totals):
        return _empty_chart(name, caption, "nothing to show for the selection")
    top = max(totals)
    label_w, bar_h, gap = 130, 18, 8
    plot_w = _WIDTH - label_w - 60
    height = len(rows) * (bar_h + gap) + gap
    parts = []
    for i, ((label, counts), total) in enumerate(zip(rows, totals, strict=True)):
        y = gap + i * (bar_h + gap)
        parts.append(f'<text x="{label_w - 8}" y="{y + 13}" text-anchor="end">{_e(label)}</text>')
        x = float(label_w)
        for k_index, key in enumerate(keys):
            value = counts.get(key, 0)
            if not value:
                continue
            w = value / top * plot_w
            parts.append(
                f'<rect class="bar" x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar_h}" '
                f'fill="{_color(k_index)}" data-value="{value}">'
                f"<title>{_e(label)}, {_e(key)}: {value}</title></rect>"
            )
            x += w
        parts.append(f'<text x="{x + 6:.1f}" y="{y + 13}">{total}</text>')
    svg = (
        f'<svg role="img" aria-label="{_e(caption)}" width="{_WIDTH}" height="{height}" '
        f'viewBox="0 0 {_WIDTH} {height}">{"".join(parts)}</svg>'
    )
    legend = _legend(keys) if len(keys) > 1 else ""
    return (
        f'<figure data-chart="{name}"><figcaption>{_e(caption)}</figcaption>{svg}{legend}</figure>'
    )


# --------------------------------------------------------------------------- tables


def _table(head: Sequence[str], rows: Sequence[Sequence[object]], numeric: set[int]) -> str:
    if not rows:
        return '<p class="empty">none</p>'
    th = "".join(
        f"<th{' class=n' if i in numeric else ''}>{_e(h)}</th>" for i, h in enumerate(head)
    )
    body = "".join(
        "<tr>"
        + "".join(f"<td{' class=n' if i in numeric else ''}>{_e(c)}</td>" for i, c in enumerate(r))
        + "</tr>"
        for r in rows
    )
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def _filters(report: AuditReport | AuditListing) -> str:
    q = report.query
    parts = []
    if q.since is not None:
        parts.append(f"since {_utc(q.since)}")
    if q.until is not None:
        parts.append(f"until {_utc(q.until)}")
    if q.statuses:
        parts.append("status " + ", ".join(q.statuses))
    if q.file_types:
        parts.append("type " + ", ".join(q.file_types))
    return "; ".join(parts) or "none (every job)"


def html_report(
    report: AuditReport | AuditListing,
    log: Sequence[LogEntry],
    *,
    vault_name: str,
    generated_at: float,
) -> str:
    """The whole page. ``log`` holds the access-log entries the same filters select."""
    t = report.totals
    types = list(t.by_entity_type)
    per_user: dict[str, Counter[str]] = defaultdict(Counter)
    for entry in log:
        per_user[entry.user][entry.action] += 1
    users = sorted(per_user, key=lambda u: (-sum(per_user[u].values()), u))
    charts = [
        _entities_over_time(report.jobs, types),
        _bars("jobs-by-status", "Jobs by status", [(s, {s: n}) for s, n in t.by_status.items()]),
        _bars(
            "jobs-by-file-type",
            "Jobs by file type",
            [(f or "-", {f or "-": n}) for f, n in t.by_file_type.items()],
        ),
        _bars(
            "log-by-user",
            "Access-log activity per user and action",
            [(u, dict(per_user[u].most_common())) for u in users],
        ),
    ]
    cards = "".join(
        f'<div class="card"><b>{value}</b>{_e(label)}</div>'
        for label, value in (
            ("jobs", t.jobs),
            ("entities", t.entity_count),
            ("map entries", t.map_size),
            ("log entries", len(log)),
        )
    )
    jobs_table = _table(
        ("job", "status", "type", "entities", "entered the vault (UTC)"),
        [
            (j.job_id, j.status, j.file_type or "-", j.entity_count, _utc(_entered(j)))
            for j in report.jobs
        ],
        {3},
    )
    action_rows = [
        (u, a, n) for u in users for a, n in sorted(per_user[u].items(), key=lambda kv: -kv[1])
    ]
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>questa-vault audit: {_e(vault_name)}</title><style>{_CSS}</style></head>
<body>
<h1>Audit of {_e(vault_name)}</h1>
<p class="meta">Generated {_e(_utc(generated_at))} UTC by questa-vault audit --html.
Filters: {_e(_filters(report))}. Counts only: no original value is in this page.</p>
<div class="cards">{cards}</div>
{"".join(charts)}
<h2>Entities per type</h2>
{_table(("entity type", "count"), list(t.by_entity_type.items()), {1})}
<h2>Jobs by status and file type</h2>
{_table(("status", "jobs"), list(t.by_status.items()), {1})}
{_table(("file type", "jobs"), [(k or "-", v) for k, v in t.by_file_type.items()], {1})}
<h2>Access log per user and action</h2>
{_table(("user", "action", "entries"), action_rows, {2})}
<h2>Jobs</h2>
{jobs_table}
</body></html>
"""
