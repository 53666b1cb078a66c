"""The two notification channels (a webhook POST and SMTP e-mail) and their retry with back-off.

A channel's `send` delivers one message or raises DeliveryError, temporary (5xx, 429, timeouts,
connection errors: retried) or not (4xx, refused login, refused recipient). Reasons name the host and
the status, never the URL's path (a chat tool's incoming webhook URL is itself a secret), a password or
an HMAC key. Secrets are read from credentials when a message goes out, never kept in the config.
"""

from __future__ import annotations

import asyncio
import random
import smtplib
import ssl
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from email.message import EmailMessage
from typing import Any, Protocol

import aiohttp

from daemon import notify_message
from daemon.config import NotifyConfig, url_host
from daemon.credentials import CredentialStore
from daemon.errors import CredentialError
from daemon.notify_plan import Outgoing

WEBHOOK = "webhook"
EMAIL = "email"
CHANNELS = (WEBHOOK, EMAIL)
MIN_WEBHOOK_SECRET = 16  # an HMAC key anyone could guess signs nothing


class DeliveryError(Exception):
    def __init__(self, reason: str, *, temporary: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.temporary = temporary


class Channel(Protocol):
    name: str

    async def send(self, message: Outgoing, now: datetime) -> str:
        """Deliver; the outcome in a few words (e.g. "HTTP 200")."""
        ...

    async def send_test(self, host: str, now: datetime) -> str: ...

    async def close(self) -> None: ...


class WebhookChannel:
    name = WEBHOOK

    def __init__(self, config: NotifyConfig, credentials: CredentialStore) -> None:
        self._config = config
        self._hook = config.webhook
        self._credentials = credentials
        self._session: aiohttp.ClientSession | None = None
        self.where = url_host(self._hook.url)  # for messages: never user info, path or query

    def secret(self) -> str | None:
        """The HMAC key (None for a chat webhook without one); json needs one of 16+ characters."""
        name = self._hook.secret_credential
        secret = (
            self._credentials.load(name)
            if self._hook.format == "json"
            else self._credentials.load_optional(name)
        )
        if secret is None:
            return None
        if len(secret.reveal()) < MIN_WEBHOOK_SECRET:
            raise CredentialError(f"credential {name!r} is shorter than {MIN_WEBHOOK_SECRET} characters")
        return secret.reveal()

    async def send(self, message: Outgoing, now: datetime) -> str:
        payload = notify_message.json_body(message, self._config.public_url, now)
        return await self._post(payload, notify_message.text(message, self._config.public_url))

    async def send_test(self, host: str, now: datetime) -> str:
        payload, line = notify_message.test_message(self.name, host, now)
        return await self._post(payload, line)

    async def _post(self, payload: dict[str, Any], line: str) -> str:
        try:
            secret = self.secret()
        except CredentialError as exc:
            raise DeliveryError(str(exc), temporary=False) from None
        body = notify_message.webhook_body(payload, line, self._hook.format)
        headers = notify_message.signed_headers(secret, body, int(time.time()))
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self._config.timeout_s))
        try:
            # no redirects: the signed body and its headers go to the configured host only
            async with self._session.post(
                self._hook.url, data=body, headers=headers, allow_redirects=False
            ) as response:
                status = response.status
        except TimeoutError:
            raise DeliveryError(
                f"{self.where}: no answer within {self._config.timeout_s:g} s", temporary=True
            ) from None
        except aiohttp.ClientError as exc:
            raise DeliveryError(f"{self.where}: {type(exc).__name__}", temporary=True) from None
        if 200 <= status < 300:
            return f"HTTP {status}"
        temporary = status >= 500 or status in (408, 429)
        raise DeliveryError(f"{self.where} answered HTTP {status}", temporary=temporary)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class EmailChannel:
    name = EMAIL

    def __init__(self, config: NotifyConfig, credentials: CredentialStore) -> None:
        self._config = config
        self._mail = config.email
        self._credentials = credentials
        self.where = f"{self._mail.host}:{self._mail.port}"

    async def send(self, message: Outgoing, now: datetime) -> str:
        mail = notify_message.email(
            self._mail.from_address,
            self._mail.to,
            notify_message.subject(message),
            notify_message.text(message, self._config.public_url),
        )
        return await self._deliver(mail)

    async def send_test(self, host: str, now: datetime) -> str:
        _, line = notify_message.test_message(self.name, host, now)
        mail = notify_message.email(
            self._mail.from_address, self._mail.to, "[stocksync] test notification", line
        )
        return await self._deliver(mail)

    async def _deliver(self, mail: EmailMessage) -> str:
        password: str | None = None
        if self._mail.username:
            try:
                password = self._credentials.load(self._mail.password_credential).reveal()
            except CredentialError as exc:
                raise DeliveryError(str(exc), temporary=False) from None
        try:
            # smtplib blocks: a thread, bounded by the socket timeout (and by wait_for for a slow server)
            await asyncio.wait_for(
                asyncio.to_thread(self._send_blocking, mail, password), self._config.timeout_s * 3
            )
        except TimeoutError:
            raise DeliveryError(f"{self.where}: no answer in time", temporary=True) from None
        return f"accepted by {self.where} for {len(self._mail.to)} recipient(s)"

    def _send_blocking(self, mail: EmailMessage, password: str | None) -> None:
        timeout = self._config.timeout_s
        try:
            smtp: smtplib.SMTP
            if self._mail.tls == "tls":
                smtp = smtplib.SMTP_SSL(
                    self._mail.host, self._mail.port, timeout=timeout, context=ssl.create_default_context()
                )
            else:
                smtp = smtplib.SMTP(self._mail.host, self._mail.port, timeout=timeout)
            with smtp:
                if self._mail.tls == "starttls":
                    smtp.starttls(context=ssl.create_default_context())
                if password is not None:
                    smtp.login(self._mail.username, password)
                smtp.send_message(mail)
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(
                f"{self.where} refused the login (SMTP {exc.smtp_code})", temporary=False
            ) from None
        except smtplib.SMTPRecipientsRefused:
            raise DeliveryError(f"{self.where} refused every recipient", temporary=False) from None
        except smtplib.SMTPResponseException as exc:
            raise DeliveryError(
                f"{self.where} answered SMTP {exc.smtp_code}", temporary=exc.smtp_code < 500
            ) from None
        except smtplib.SMTPNotSupportedError:
            raise DeliveryError(
                f"{self.where} does not offer STARTTLS (set notify.email.tls)", temporary=False
            ) from None
        except (smtplib.SMTPException, ssl.SSLError, OSError) as exc:
            raise DeliveryError(f"{self.where}: {type(exc).__name__}", temporary=True) from None

    async def close(self) -> None:
        return None


def configured_channels(config: NotifyConfig, credentials: CredentialStore) -> dict[str, Channel]:
    """The channels the configuration turns on (none: notifications are off)."""
    channels: dict[str, Channel] = {}
    if config.webhook.url:
        channels[WEBHOOK] = WebhookChannel(config, credentials)
    if config.email.host:
        channels[EMAIL] = EmailChannel(config, credentials)
    return channels


def channel_kinds(config: NotifyConfig) -> dict[str, tuple[str, ...]]:
    return {WEBHOOK: config.webhook.kinds, EMAIL: config.email.kinds}


async def with_retries(
    send: Callable[[], Awaitable[str]],
    attempts: int,
    backoff_s: float,
    *,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    jitter: Callable[[], float] = random.random,
) -> str:
    """Send; on a temporary failure wait backoff_s × 2^attempt × (0.5 … 1.5) and try again, up to
    `attempts` tries (the jitter keeps replicas and channels from retrying in step)."""
    for attempt in range(attempts):
        try:
            return await send()
        except DeliveryError as exc:
            if not exc.temporary or attempt == attempts - 1:
                raise
            await sleep(min(backoff_s * 2**attempt * (0.5 + jitter()), 600.0))
    raise AssertionError("unreachable: attempts >= 1")
