"""structlog set-up: JSON lines when stdout is not a TTY, console otherwise; secrets redacted.

Every line carries a stable `event` name; store work binds `store_id` (and `pass_id`) through
contextvars so nested calls need not pass them along.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog

from daemon.config import masked_dsn

_SECRET_KEYS = re.compile(
    r"(secret|token|password|passwd|authorization|api[_-]?key|credential_value|hmac)", re.I
)


def redact(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Mask values of secret-looking keys and passwords inside DSNs anywhere in a log line."""
    for key, value in list(event_dict.items()):
        if _SECRET_KEYS.search(key):
            event_dict[key] = "***"
        elif isinstance(value, str) and ("://" in value or "password" in value.lower()):
            event_dict[key] = masked_dsn(value)
    return event_dict


def configure_logging(level: str = "info", fmt: str = "auto", stream: TextIO | None = None) -> None:
    out = stream if stream is not None else sys.stdout
    use_json = fmt == "json" or (fmt == "auto" and not out.isatty())
    renderer: Any = (
        structlog.processors.JSONRenderer() if use_json else structlog.dev.ConsoleRenderer(colors=False)
    )
    shared: list[Any] = [
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        redact,  # after the traceback is text: a DSN in an exception message is masked too
    ]
    structlog.configure(
        processors=[structlog.contextvars.merge_contextvars, *shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level.upper())),
        logger_factory=structlog.PrintLoggerFactory(out),
        cache_logger_on_first_use=False,
    )
    _route_stdlib_logging(out, level, shared, renderer)


def _route_stdlib_logging(out: TextIO, level: str, shared: list[Any], renderer: Any) -> None:
    """aiohttp, asyncio and warnings log through the standard library: render their records (tracebacks
    included) with the same processors, so stderr stays one JSON object per line."""
    handler = logging.StreamHandler(out)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(getattr(logging, level.upper()))
    logging.captureWarnings(True)


def get_logger(**bound: Any) -> Any:
    return structlog.get_logger("stocksync").bind(**bound)
