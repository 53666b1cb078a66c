"""What a notification says: the JSON body, the chat text, the e-mail, and the webhook signature.

Bodies hold alert fields only (kind, state, store, platform, summary, since, a drift-page link): never a
secret or a credential's name. The signature is stocksync's own scheme (as for upstream events):
`X-Stocksync-Signature: sha256=<hex HMAC-SHA256 of "<X-Stocksync-Timestamp>.<raw body>">`.
"""

from __future__ import annotations

import json
from datetime import datetime
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlencode

from daemon.alerts import Alert
from daemon.notify_plan import RESOLVED, Notice, Outgoing
from reconcilers.signatures import sign_stocksync

SIGNATURE_HEADER = "X-Stocksync-Signature"
TIMESTAMP_HEADER = "X-Stocksync-Timestamp"
TEST = "test"


def drift_link(public_url: str, alert: Alert) -> str | None:
    if not public_url:
        return None
    query = f"?{urlencode({'store': alert.store_id})}" if alert.store_id else ""
    return f"{public_url.rstrip('/')}/drift{query}"


def _notice(notice: Notice, public_url: str) -> dict[str, Any]:
    a = notice.alert
    body: dict[str, Any] = {
        "kind": a.kind,
        "state": notice.state,
        "key": a.key,
        "store_id": a.store_id,
        "platform": a.platform,
        "summary": a.summary,
        "since": a.since.isoformat(),
        "reminder": notice.reminder,
    }
    if (link := drift_link(public_url, a)) is not None:
        body["link"] = link
    return body


def json_body(message: Outgoing, public_url: str, now: datetime) -> dict[str, Any]:
    """One notice as a flat object; a rate-limit summary as kind "summary" listing its notices."""
    if not message.summarised:
        return _notice(message.notices[0], public_url) | {"sent_at": now.isoformat()}
    return {
        "kind": "summary",
        "state": "firing",
        "summary": f"{len(message.notices)} notifications held back by the hourly limit, in one message",
        "sent_at": now.isoformat(),
        "notifications": [_notice(n, public_url) for n in message.notices],
    }


def _line(notice: Notice, public_url: str) -> str:
    state = "RESOLVED" if notice.state == RESOLVED else ("still firing" if notice.reminder else "FIRING")
    link = drift_link(public_url, notice.alert) if notice.state != RESOLVED else None
    return f"[{state}] {notice.alert.kind}: {notice.alert.summary}" + (f" — {link}" if link else "")


def text(message: Outgoing, public_url: str) -> str:
    lines = [_line(n, public_url) for n in message.notices]
    if message.summarised:
        lines.insert(0, f"stocksync: {len(lines)} notifications (hourly limit reached, sent as one):")
    else:
        lines[0] = f"stocksync {lines[0]}"
    return "\n".join(lines)


def subject(message: Outgoing) -> str:
    if message.summarised:
        return f"[stocksync] {len(message.notices)} notifications"
    notice = message.notices[0]
    state = "resolved" if notice.state == RESOLVED else "reminder" if notice.reminder else "firing"
    where = f" {notice.alert.store_id}" if notice.alert.store_id else ""
    return f"[stocksync] {notice.alert.kind}{where} {state}"


def test_message(channel: str, host: str, now: datetime) -> tuple[dict[str, Any], str]:
    """The JSON body and the text of `stocksync notify test`."""
    summary = f"stocksync test notification from {host}: this channel works"
    return {"kind": TEST, "state": TEST, "summary": summary, "sent_at": now.isoformat()}, summary


def webhook_body(payload: dict[str, Any], line: str, format_: str) -> bytes:
    """The body a webhook receives: the JSON object, or for chat tools `{"text": ...}`."""
    data = {"text": line} if format_ == "slack" else payload
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


def signed_headers(secret: str | None, body: bytes, timestamp: int) -> dict[str, str]:
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers[TIMESTAMP_HEADER] = str(timestamp)
        headers[SIGNATURE_HEADER] = sign_stocksync(secret, timestamp, body)
    return headers


def email(sender: str, to: tuple[str, ...], subject_line: str, body: str) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = ", ".join(to)
    # summaries come from store ids and counts, but a header never takes a line break from them
    mail["Subject"] = " ".join(subject_line.split())
    mail.set_content(body)
    return mail
