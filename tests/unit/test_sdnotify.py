"""sd_notify: messages arrive on a bound unix datagram socket (path and abstract), no-op without one."""

from __future__ import annotations

import os
import socket
import uuid
from pathlib import Path

from daemon.sdnotify import Notifier


def receive(sock: socket.socket) -> str:
    sock.settimeout(2)
    return sock.recv(4096).decode()


def test_ready_status_watchdog_stopping_to_a_path_socket(tmp_path: Path) -> None:
    path = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))
        notifier = Notifier({"NOTIFY_SOCKET": str(path)})
        assert notifier.ready("serving")
        assert receive(sock) == f"READY=1\nSTATUS=serving\nMAINPID={os.getpid()}"
        notifier.status("draining 3 stores")
        assert receive(sock) == "STATUS=draining 3 stores"
        notifier.watchdog()
        assert receive(sock) == "WATCHDOG=1"
        notifier.stopping()
        assert receive(sock).startswith("STOPPING=1")


def test_abstract_socket_address() -> None:
    name = f"stocksync-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        assert Notifier({"NOTIFY_SOCKET": "@" + name}).watchdog()
        assert receive(sock) == "WATCHDOG=1"


def test_watchdog_interval_is_half_the_timeout_and_pid_checked() -> None:
    assert Notifier({"WATCHDOG_USEC": "30000000"}).watchdog_interval_s == 15.0
    assert Notifier({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}).watchdog_interval_s is None


def test_without_socket_nothing_is_sent() -> None:
    notifier = Notifier({})
    assert not notifier.enabled and notifier.ready("x") is False
