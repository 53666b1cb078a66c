"""`stocksync notify test`: a real CLI process sends through local receivers and says what happened."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from tests.e2e.daemon_process import STOCKSYNC
from tests.notify.receivers import smtp_server, webhook_receiver
from tests.secret_scan import register_secret

SECRET = "cli-notify-hmac-key-abcdef012345"
PASSWORD = "cli-smtp-password-4567"


async def stocksync(tmp_path: Path, *args: str, **settings: str) -> tuple[int, str, str]:
    credentials = tmp_path / "credentials"
    credentials.mkdir(exist_ok=True)
    for name, value in (("stocksync-notify-secret", SECRET), ("stocksync-smtp-password", PASSWORD)):
        register_secret(name, value)
        (credentials / name).write_text(value)
    env = {k: v for k, v in os.environ.items() if not k.startswith("STOCKSYNC_")}
    env["STOCKSYNC_CREDENTIALS__DIRECTORY"] = str(credentials)
    env.update({f"STOCKSYNC_NOTIFY__{k.upper()}": v for k, v in settings.items()})
    process = await asyncio.create_subprocess_exec(
        STOCKSYNC,
        *args,
        env=env,
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_a_working_webhook_and_mail_server(tmp_path: Path) -> None:
    async with webhook_receiver(SECRET) as hook, smtp_server(password=PASSWORD) as smtp:
        status, out, err = await stocksync(
            tmp_path,
            "notify",
            "test",
            webhook__url=hook.url,
            email__host="127.0.0.1",
            email__port=str(smtp.port),
            email__tls="none",
            email__username="alerts",
            email__from_address="stocksync@example.com",
            email__to="support@example.com",
        )
    assert status == 0, err
    assert out.splitlines() == [
        "webhook: sent, HTTP 200",
        f"email: sent, accepted by 127.0.0.1:{smtp.port} for 1 recipient(s)",
    ]
    (got,) = hook.received
    assert got.signed and got.json["kind"] == "test"
    assert "test notification" in smtp.mails[0].message["Subject"]
    assert SECRET not in out + err and PASSWORD not in out + err


async def test_a_failing_channel_exits_1_with_the_reason(tmp_path: Path) -> None:
    async with webhook_receiver(SECRET, path="/hook/token-in-path") as hook:
        hook.answers = [500]
        status, out, _ = await stocksync(
            tmp_path, "notify", "test", "--channel", "webhook", webhook__url=hook.url
        )
    assert status == 1
    assert out.strip() == f"webhook: FAILED: {hook.url.split('/')[2]} answered HTTP 500"


async def test_no_channel_configured_exits_2(tmp_path: Path) -> None:
    status, _, err = await stocksync(tmp_path, "notify", "test")
    assert status == 2 and "notify.webhook.url or notify.email.host" in err
    status, _, err = await stocksync(
        tmp_path, "notify", "test", "--channel", "email", webhook__url="http://127.0.0.1:9/x"
    )
    assert status == 2 and "notify.email" in err
