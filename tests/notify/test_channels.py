"""The webhook and e-mail channels against local receivers, and the retry with back-off (no sleeping:
the sleep is injected and records the waits)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from daemon.alerts import Alert
from daemon.config import NotifyConfig, NotifyEmailConfig, NotifyWebhookConfig
from daemon.credentials import CredentialStore
from daemon.notify_channels import DeliveryError, EmailChannel, WebhookChannel, with_retries
from daemon.notify_plan import FIRING, RESOLVED, Notice, Outgoing
from tests.notify.receivers import smtp_server, webhook_receiver
from tests.secret_scan import register_secret

SECRET = "notify-test-hmac-key-0123456789"
SMTP_PASSWORD = "smtp-test-password-9876"
NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
HELD = Alert("guard_held", "guard_held:na", "na", "wix", "store na held (4 writes held)", NOW)


def credentials(tmp_path: Path, **files: str) -> CredentialStore:
    directory = tmp_path / "credentials"
    directory.mkdir(exist_ok=True)
    for name, value in files.items():
        register_secret(name, value)
        (directory / name).write_text(value)
    return CredentialStore(str(directory), environ={})


def webhook_config(url: str, **values: object) -> NotifyConfig:
    return NotifyConfig(public_url="https://ops.example.com/", webhook=NotifyWebhookConfig(url=url, **values))  # type: ignore[arg-type]


def one(notice: Notice, channel: str = "webhook") -> Outgoing:
    return Outgoing(channel, (notice,))


async def test_a_signed_json_webhook_the_receiver_verifies_with_no_secret_in_it(tmp_path: Path) -> None:
    store = credentials(tmp_path, **{"stocksync-notify-secret": SECRET})
    async with webhook_receiver(SECRET) as receiver:
        channel = WebhookChannel(webhook_config(receiver.url), store)
        try:
            outcome = await channel.send(one(Notice(HELD, FIRING)), NOW)
        finally:
            await channel.close()
    assert outcome == "HTTP 200"
    (got,) = receiver.received
    assert got.signed
    assert got.json == {
        "kind": "guard_held",
        "state": "firing",
        "key": "guard_held:na",
        "store_id": "na",
        "platform": "wix",
        "summary": "store na held (4 writes held)",
        "since": NOW.isoformat(),
        "reminder": False,
        "link": "https://ops.example.com/drift?store=na",
        "sent_at": NOW.isoformat(),
    }
    assert SECRET.encode() not in got.body and b"stocksync-notify-secret" not in got.body


async def test_a_body_changed_in_transit_or_a_wrong_key_does_not_verify(tmp_path: Path) -> None:
    store = credentials(tmp_path, **{"stocksync-notify-secret": SECRET})
    async with webhook_receiver("another-key-entirely-000") as receiver:
        channel = WebhookChannel(webhook_config(receiver.url), store)
        try:
            await channel.send(one(Notice(HELD, RESOLVED)), NOW)
        finally:
            await channel.close()
    assert receiver.received[0].json["state"] == "resolved" and not receiver.received[0].signed


async def test_slack_format_posts_text(tmp_path: Path) -> None:
    store = credentials(tmp_path)  # a chat webhook needs no HMAC key (its URL is the secret)
    async with webhook_receiver(SECRET) as receiver:
        channel = WebhookChannel(webhook_config(receiver.url, format="slack"), store)
        try:
            await channel.send(one(Notice(HELD, FIRING)), NOW)
        finally:
            await channel.close()
    body = receiver.received[0].json
    assert list(body) == ["text"]
    assert body["text"].startswith("stocksync [FIRING] guard_held: store na held")
    assert "https://ops.example.com/drift?store=na" in body["text"]


@pytest.mark.parametrize(
    ("status", "temporary"), [(500, True), (503, True), (429, True), (400, False), (404, False)]
)
async def test_http_errors_are_temporary_or_not_and_name_no_path(
    tmp_path: Path, status: int, temporary: bool
) -> None:
    store = credentials(tmp_path, **{"stocksync-notify-secret": SECRET})
    async with webhook_receiver(SECRET, path="/T000/B000/secret-token-in-path") as receiver:
        receiver.answers = [status]
        channel = WebhookChannel(webhook_config(receiver.url), store)
        try:
            with pytest.raises(DeliveryError) as raised:
                await channel.send(one(Notice(HELD, FIRING)), NOW)
        finally:
            await channel.close()
    assert raised.value.temporary is temporary
    assert f"HTTP {status}" in raised.value.reason and "secret-token-in-path" not in raised.value.reason


async def test_json_webhook_without_its_key_fails_naming_the_credential_not_a_value(tmp_path: Path) -> None:
    channel = WebhookChannel(webhook_config("http://127.0.0.1:9/x"), credentials(tmp_path))
    with pytest.raises(DeliveryError) as raised:
        await channel.send(one(Notice(HELD, FIRING)), NOW)
    assert not raised.value.temporary and "stocksync-notify-secret" in raised.value.reason


def email_config(port: int, username: str = "") -> NotifyConfig:
    mail = NotifyEmailConfig(
        host="127.0.0.1",
        port=port,
        tls="none",
        username=username,
        from_address="stocksync@example.com",
        to=("a@example.com", "b@example.com"),
    )
    return NotifyConfig(email=mail)


async def test_email_logs_in_and_reaches_every_recipient(tmp_path: Path) -> None:
    store = credentials(tmp_path, **{"stocksync-smtp-password": SMTP_PASSWORD})
    async with smtp_server(password=SMTP_PASSWORD) as server:
        channel = EmailChannel(email_config(server.port, username="stocksync"), store)
        outcome = await channel.send(one(Notice(HELD, FIRING), "email"), NOW)
    assert "2 recipient(s)" in outcome
    (mail,) = server.mails
    assert mail.login == ("stocksync", SMTP_PASSWORD)
    assert mail.sender == "stocksync@example.com" and mail.recipients == ["a@example.com", "b@example.com"]
    assert mail.message["Subject"] == "[stocksync] guard_held na firing"
    assert "store na held (4 writes held)" in mail.message.get_payload()
    assert SMTP_PASSWORD.encode() not in mail.data


async def test_email_with_a_wrong_password_fails_for_good_without_the_password(tmp_path: Path) -> None:
    store = credentials(tmp_path, **{"stocksync-smtp-password": SMTP_PASSWORD})
    async with smtp_server(password="the-right-one-is-other") as server:
        channel = EmailChannel(email_config(server.port, username="stocksync"), store)
        with pytest.raises(DeliveryError) as raised:
            await channel.send(one(Notice(HELD, FIRING), "email"), NOW)
    assert not raised.value.temporary and "535" in raised.value.reason
    assert SMTP_PASSWORD not in raised.value.reason


async def test_a_451_from_the_mail_server_is_retried_and_then_delivered(tmp_path: Path) -> None:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    async with smtp_server() as server:
        server.transient = 2
        channel = EmailChannel(email_config(server.port), credentials(tmp_path))
        await with_retries(
            lambda: channel.send(one(Notice(HELD, FIRING), "email"), NOW),
            5,
            2.0,
            sleep=sleep,
            jitter=lambda: 0.5,
        )
    assert len(server.mails) == 1 and waits == [2.0, 4.0]


async def test_backoff_doubles_with_jitter_and_gives_up_after_the_attempts() -> None:
    waits: list[float] = []
    tries = 0

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    async def failing() -> str:
        nonlocal tries
        tries += 1
        raise DeliveryError("example.com answered HTTP 503", temporary=True)

    jitters = iter([0.0, 1.0, 0.5, 0.25])
    with pytest.raises(DeliveryError):
        await with_retries(failing, 5, 2.0, sleep=sleep, jitter=lambda: next(jitters))
    assert tries == 5 and waits == [1.0, 6.0, 8.0, 12.0]  # 2·2^n × (0.5 + jitter)


async def test_a_permanent_failure_is_not_retried() -> None:
    tries = 0

    async def failing() -> str:
        nonlocal tries
        tries += 1
        raise DeliveryError("HTTP 404", temporary=False)

    async def sleep(seconds: float) -> None:
        raise AssertionError("no wait before giving up")

    with pytest.raises(DeliveryError):
        await with_retries(failing, 5, 2.0, sleep=sleep)
    assert tries == 1
