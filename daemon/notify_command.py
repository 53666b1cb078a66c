"""`stocksync notify test [--channel webhook|email]`: send a test message through the configured channels.

Prints one line per channel (what the receiver answered, or why it failed, never a secret); exit 1 when
a channel failed, 2 when no (or not the named) channel is configured.
"""

from __future__ import annotations

import argparse
from typing import Any

from daemon.config import Config
from daemon.errors import InputError
from daemon.notify import send_tests
from daemon.notify_channels import CHANNELS
from daemon.output import terminal_safe
from daemon.resources import credential_store


def register(commands: Any) -> None:
    notify = commands.add_parser("notify", help="outbound notifications of alerts")
    sub = notify.add_subparsers(dest="notify_command", required=True, metavar="SUBCOMMAND")
    test = sub.add_parser("test", help="send a test message through the configured channels now")
    test.add_argument("--channel", choices=CHANNELS, help="only this channel (default: every configured one)")


async def run(args: argparse.Namespace, config: Config) -> int:
    results = await send_tests(config.notify, credential_store(config), args.channel)
    if not results:
        which = f"notify.{args.channel}" if args.channel else "notify.webhook.url or notify.email.host"
        raise InputError("config", which, "no notification channel configured; set it first")
    for name, outcome, reason in results:
        print(
            terminal_safe(f"{name}: sent, {outcome}" if outcome is not None else f"{name}: FAILED: {reason}")
        )
    return 0 if all(outcome is not None for _, outcome, _ in results) else 1
