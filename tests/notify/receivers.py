"""Local receivers for notification tests: an aiohttp webhook endpoint that checks stocksync's
signature the way the README tells operators to, and a tiny SMTP server (enough of RFC 5321 for
smtplib: EHLO, AUTH PLAIN, MAIL, RCPT, DATA, QUIT)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from typing import Any

from aiohttp import web


def verify(secret: str, headers: Any, body: bytes, tolerance_s: int = 300) -> bool:
    """What a receiver does (README "Notifications"): HMAC over "<timestamp>.<body>", fresh timestamp."""
    timestamp = headers.get("X-Stocksync-Timestamp", "")
    signature = headers.get("X-Stocksync-Signature", "")
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > tolerance_s:
        return False
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(signature, f"sha256={expected}")


@dataclass
class Received:
    body: bytes
    headers: dict[str, str]
    signed: bool

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class WebhookReceiver:
    secret: str
    url: str = ""
    received: list[Received] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)  # statuses to answer first, in order; then 200
    hang: bool = False  # never answer (until the test ends)
    requests: int = 0

    async def handle(self, request: web.Request) -> web.Response:
        self.requests += 1
        body = await request.read()
        if self.hang:
            await asyncio.Event().wait()
        if self.answers:
            return web.Response(status=self.answers.pop(0))
        self.received.append(
            Received(body, dict(request.headers), verify(self.secret, request.headers, body))
        )
        return web.Response(text="ok")


@asynccontextmanager
async def webhook_receiver(secret: str, path: str = "/hooks/stocksync") -> AsyncIterator[WebhookReceiver]:
    receiver = WebhookReceiver(secret)
    app = web.Application()
    app.router.add_post(path, receiver.handle)
    runner = web.AppRunner(app, handler_cancellation=True)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    receiver.url = f"http://127.0.0.1:{port}{path}"
    try:
        yield receiver
    finally:
        await runner.cleanup()


@dataclass
class Mail:
    sender: str
    recipients: list[str]
    data: bytes
    login: tuple[str, str] | None

    @property
    def message(self) -> Message:
        return message_from_bytes(self.data)


@dataclass
class SmtpServer:
    port: int = 0
    password: str | None = None  # the AUTH PLAIN password accepted; None: no AUTH offered
    mails: list[Mail] = field(default_factory=list)
    transient: int = 0  # answer the first N MAIL commands with 451

    async def session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async def say(line: str) -> None:
            writer.write(line.encode() + b"\r\n")
            await writer.drain()

        sender, recipients, login = "", [], None
        await say("220 localhost test SMTP")
        try:
            while line := (await reader.readline()).decode().rstrip("\r\n"):
                verb = line.split(" ", 1)[0].upper()
                if verb in ("EHLO", "HELO"):
                    auth = ["250-AUTH PLAIN"] if self.password is not None else []
                    for extension in ["250-localhost", *auth]:
                        await say(extension)
                    await say("250 8BITMIME")
                elif verb == "AUTH":
                    _, user, password = base64.b64decode(line.split()[2]).split(b"\0")
                    if password.decode() != self.password:
                        await say("535 5.7.8 authentication failed")
                        continue
                    login = (user.decode(), password.decode())
                    await say("235 2.7.0 ok")
                elif verb == "MAIL":
                    if self.transient > 0:
                        self.transient -= 1
                        await say("451 4.3.0 try again later")
                        continue
                    sender = line.split(":", 1)[1].strip().strip("<>").split(">")[0]
                    await say("250 ok")
                elif verb == "RCPT":
                    recipients.append(line.split(":", 1)[1].strip().strip("<>"))
                    await say("250 ok")
                elif verb == "DATA":
                    await say("354 go ahead")
                    data = b""
                    while (chunk := await reader.readline()) != b".\r\n":
                        data += chunk
                    self.mails.append(Mail(sender, recipients, data, login))
                    recipients = []
                    await say("250 queued")
                elif verb == "QUIT":
                    await say("221 bye")
                    break
                else:
                    await say("250 ok")
        finally:
            writer.close()


@asynccontextmanager
async def smtp_server(password: str | None = None) -> AsyncIterator[SmtpServer]:
    server = SmtpServer(password=password)
    listener = await asyncio.start_server(server.session, "127.0.0.1", 0)
    server.port = listener.sockets[0].getsockname()[1]
    try:
        yield server
    finally:
        listener.close()
        await listener.wait_closed()
