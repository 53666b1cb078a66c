"""Server-rendered HTML for support staff (no build step, no JavaScript). Everything is escaped."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from html import escape
from typing import Any
from urllib.parse import quote, urlencode

from daemon.alerts import MEANING, Alert
from daemon.drift_listing import PageSpan
from daemon.output import show_value

_STYLE = (
    "body{font:14px system-ui,sans-serif;margin:2em}table{border-collapse:collapse}"
    "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}th{background:#f4f4f4}"
    ".open{color:#b00}form{display:inline}dl.legend{display:grid;grid-template-columns:max-content auto;"
    "gap:2px 12px;color:#444}dl.legend dt{font-weight:bold}dl.legend dd{margin:0}"
    ".alerts{border:2px solid #b00;background:#fff4f4;padding:4px 12px;margin-bottom:1em}"
)
# What support needs to read the table's "status" and "policy did" columns.
_LEGEND = (
    "<dl class='legend'>"
    "<dt>held</dt><dd>the store's value is left as is and this variant is not written until you resolve "
    "the record (the report policy, or a protect store where the edit hides stock)</dd>"
    "<dt>corrected</dt><dd>stocksync wrote the desired value back over the edit (overwrite policy, or an "
    "edit that would oversell)</dd>"
    "<dt>contested</dt><dd>the variant was edited again and again after corrections; stocksync stopped "
    "overwriting it and holds it for you</dd>"
    "<dt>open / resolved</dt><dd>open records wait for you; <b>Accept store value</b> keeps the store's "
    "value and pauses syncing of the variant (resume it on the variant's page), <b>Reapply desired</b> "
    "writes the desired value now</dd>"
    "</dl>"
)


def when(value: Any) -> str:
    """A time as support reads it: to the second, always with its zone (UTC, the daemon's clock)."""
    if isinstance(value, datetime):
        stamp = value if value.tzinfo else value.replace(tzinfo=UTC)
        return stamp.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return "" if value is None else str(value)


def page(title: str, body: str) -> str:
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title>"
        f"<style>{_STYLE}</style></head><body><h1>{escape(title)}</h1>{body}</body></html>"
    )


def login_form(message: str = "") -> str:
    note = f"<p class='open'>{escape(message)}</p>" if message else ""
    return page(
        "stocksync — sign in",
        f"{note}<form method='post' action='/drift/login'><label>Admin token "
        "<input type='password' name='token' autocomplete='off' required></label> "
        "<button type='submit'>Sign in</button></form>",
    )


def logout_form(csrf: str) -> str:
    return page(
        "stocksync — sign out",
        "<form method='post' action='/drift/logout'>"
        f"<input type='hidden' name='csrf' value='{escape(csrf)}'>"
        "<button type='submit'>Sign out</button></form><p><a href='/drift'>back to drift</a></p>",
    )


def not_found(message: str) -> str:
    return page("Not found", f"<p>{escape(message)}</p><p><a href='/drift'>back to drift</a></p>")


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>" if rows else "<p>(none)</p>"


def alert_banner(alerts: Sequence[Alert]) -> str:
    """The active alerts (what the notifier sends), above everything else; nothing when none."""
    if not alerts:
        return ""
    items = "".join(
        f"<li><b title='{escape(MEANING.get(a.kind, ''))}'>{escape(a.kind)}</b> "
        f"{escape(a.summary)} <small>(since {escape(when(a.since))})</small></li>"
        for a in alerts
    )
    return f"<div class='alerts' role='alert'><h2>Active alerts ({len(alerts)})</h2><ul>{items}</ul></div>"


def drift_list(
    records: Sequence[Mapping[str, Any]],
    filters: Mapping[str, str],
    csrf: str | None,
    *,
    span: PageSpan,
    newer_href: str | None,
    older_href: str | None,
    back: str,
    limit: str = "",
    stores: Sequence[str] = (),
    alerts: Sequence[Alert] = (),
    header: str = "",
) -> str:
    """One page of drift records; `back` is where the buttons return to (this page, filters kept).
    `header`: HTML shown above the filters (the upstream sources' freshness)."""
    exported = urlencode({k: v for k, v in filters.items() if v})
    chosen = filters.get("store", "")
    if chosen and chosen not in stores:  # a link to a store that is gone: keep it visible, not silent
        stores = [*stores, chosen]
    options = "<option value=''>all stores</option>" + "".join(
        f"<option value='{escape(s)}'{' selected' if s == chosen else ''}>{escape(s)}</option>"
        for s in stores
    )
    form = (
        "<form method='get' action='/drift'>"
        f"<label>Store <select name='store'>{options}</select></label> "
        "<label>Status <select name='status'>"
        + "".join(
            f"<option{' selected' if filters.get('status', 'open') == s else ''}>{s}</option>"
            for s in ("open", "resolved", "all")
        )
        + "</select></label> "
        f"<label>Older than (hours) <input name='age' size='4' value='{escape(filters.get('age', ''))}'></label> "
        f"<label>Per page <input name='limit' size='4' value='{escape(limit)}' placeholder='100'></label> "
        f"<button type='submit'>Filter</button> <a href='/drift/export.csv?{escape(exported)}'>CSV</a>"
        " (every matching record)</form>"
    )
    rows = [_drift_row(r, csrf, back) for r in records]
    headers = [
        "id",
        "store",
        "SKU",
        "external id",
        "expected",
        "store shows",
        "status",
        "policy did",
        "seen",
        "since",
        "last seen",
        "",
    ]
    table = _paging(span, newer_href, older_href) + _table(headers, rows)
    return page(
        "Drift in stores",
        alert_banner(alerts) + header + form + table + "<h2>What the columns say</h2>" + _LEGEND,
    )


def _paging(span: PageSpan, newer_href: str | None, older_href: str | None) -> str:
    if not span.total:
        where = "no matching records"
    elif not span.first:
        where = f"nothing on this page; {span.total:,} match"
    else:
        where = f"showing {span.first:,}–{span.last:,} of {span.total:,}"
    links = [
        f"<a href='{escape(href)}' rel='{rel}'>{label}</a>"
        for href, rel, label in ((newer_href, "prev", "previous"), (older_href, "next", "next"))
        if href is not None
    ]
    return f"<p>{where}" + (" · " + " ".join(links) if links else "") + "</p>"


def _drift_row(r: Mapping[str, Any], csrf: str | None, back: str) -> list[str]:
    history = f"/drift/stores/{quote(r['store_id'], safe='')}/variants/{quote(r['external_id'], safe='')}"
    actions = ""
    if r["status"] == "open":
        hidden = f"<input type='hidden' name='csrf' value='{escape(csrf or '')}'>" + (
            f"<input type='hidden' name='back' value='{escape(back)}'>"
        )
        # Accept pauses syncing: it asks first (a page, since these pages run no script)
        actions = "".join(
            f"<form method='post' action='/drift/{r['id']}/{action}'>{hidden}"
            f"<button type='submit' name='do' value='{action}'>{label}</button></form> "
            for action, label in (("accept", "Accept store value…"), ("reapply", "Reapply desired"))
        )
    return [
        str(r["id"]),
        escape(r["store_id"]),
        escape(r["sku"]),
        f"<a href='{escape(history)}'>{escape(r['external_id'])}</a>",
        escape(show_value(r["expected_available"], r["expected_quantity"], r["expected_unlimited"])),
        escape(show_value(r["store_available"], r["store_quantity"], r["store_unlimited"])),
        f"<span class='{escape(r['status'])}'>{escape(r['status'])}</span>",
        escape(r["action"]),
        str(r["occurrences"]),
        escape(when(r["detected_at"])),
        escape(when(r["last_seen_at"])),
        actions,
    ]


def confirm_accept(record: Mapping[str, Any], csrf: str, back: str) -> str:
    """The question before Accept, which stops syncing the variant until support resumes it."""
    store_value = show_value(record["store_available"], record["store_quantity"], record["store_unlimited"])
    expected = show_value(
        record["expected_available"], record["expected_quantity"], record["expected_unlimited"]
    )
    hidden = (
        f"<input type='hidden' name='csrf' value='{escape(csrf)}'>"
        f"<input type='hidden' name='back' value='{escape(back)}'>"
        "<input type='hidden' name='confirm' value='yes'>"
    )
    cancel = "/drift" + (f"?{back}" if back else "")
    return page(
        "Accept the store's value?",
        f"<p>Store <b>{escape(record['store_id'])}</b>, external id <b>{escape(record['external_id'])}</b>: "
        f"the store shows <b>{escape(store_value)}</b>, stocksync expected <b>{escape(expected)}</b>.</p>"
        "<p>Accepting keeps the store's value and <b>stops syncing this variant</b>: upstream changes are no "
        "longer written to it until you press <b>Resume syncing</b> on the variant's page.</p>"
        f"<form method='post' action='/drift/{int(record['id'])}/accept'>{hidden}"
        "<button type='submit'>Yes, accept the store's value</button></form> "
        f"<a href='{escape(cancel)}'>Cancel</a>",
    )


def variant_history(history: Mapping[str, Any], csrf: str | None = None) -> str:
    v = history["variant"]
    desired = history["desired"]
    summary = (
        f"<p>SKU <b>{escape(v['sku'])}</b> ({escape(v['kind'])}) in store <b>{escape(v['store_id'])}</b>, region "
        f"{escape(v['region_id'])}, {escape(v['mode'])} mode, {escape(v['drift_policy'])} policy. "
        f"Desired now: <b>{escape(show_value(desired['available'], desired['quantity']) if desired else 'unknown (no upstream data for the region)')}</b>; "
        f"store shows {escape(show_value(v['observed_available'], v['observed_quantity'], v['observed_unlimited']))}; "
        f"last applied {escape(show_value(v['applied_available'], v['applied_quantity'], v['applied_unlimited']))}"
        + ("" if v["sync_enabled"] else f"; <b>syncing paused</b> ({escape(v['paused_reason'] or '')})")
        + "</p>"
        + ("" if v["sync_enabled"] else _resume_form(v, csrf))
        + (f"<p>Problem: <b>{escape(v['last_error'])}</b></p>" if v["last_error"] else "")
    )
    facilities = _table(
        ["facility", "country", "status", "quantity", "counts for this store", "upstream time"],
        [
            [
                escape(f["facility_id"]),
                escape(f["country"]),
                escape(f["status"]),
                escape(str(f["quantity"] or "-")),
                "yes" if f["in_region"] else "no (outside the selling region)",
                escape(when(f["source_updated_at"])),
            ]
            for f in history["facilities"]
        ],
    )
    writes = _table(
        ["when", "trigger", "before", "after", "reason", "outcome", "error"],
        [
            [
                escape(when(w["created_at"])),
                escape(w["trigger"] or ""),
                escape(show_value(w["before_available"], w["before_quantity"])),
                escape(show_value(w["after_available"], w["after_quantity"])),
                escape(w["reason"]),
                escape(w["outcome"]),
                escape(w["error"] or ""),
            ]
            for w in history["writes"]
        ],
    )
    drift = _table(
        ["id", "detected", "via", "expected", "store showed", "status", "policy did", "resolved by"],
        [
            [
                str(d["id"]),
                escape(when(d["detected_at"])),
                escape(d["detected_via"]),
                escape(show_value(d["expected_available"], d["expected_quantity"], d["expected_unlimited"])),
                escape(show_value(d["store_available"], d["store_quantity"], d["store_unlimited"])),
                escape(d["status"]),
                escape(d["action"]),
                escape(d["resolved_by"] or ""),
            ]
            for d in history["drift"]
        ],
    )
    return page(
        f"{v['sku']} in {v['store_id']}",
        summary
        + "<h2>Upstream facilities</h2>"
        + facilities
        + "<h2>Writes</h2>"
        + writes
        + "<h2>Drift</h2>"
        + drift
        + "<p><a href='/drift'>back to drift</a></p>",
    )


def _resume_form(v: Mapping[str, Any], csrf: str | None) -> str:
    action = (
        f"/drift/stores/{quote(v['store_id'], safe='')}/variants/{quote(v['external_id'], safe='')}/resume"
    )
    return (
        "<p>Upstream changes are not written to this variant while it is paused. To sync it again: "
        f"<form method='post' action='{escape(action)}'>"
        f"<input type='hidden' name='csrf' value='{escape(csrf or '')}'>"
        "<button type='submit'>Resume syncing</button></form> (the desired value is then written at once; "
        "scripts may POST there with the admin bearer token).</p>"
    )
