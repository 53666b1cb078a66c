"""One error middleware: bad input → 400 naming the field, database outage → 503, never a 500 trace."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from daemon.db.pool import DATABASE_UNAVAILABLE
from daemon.errors import CredentialError, InputError, NotFoundError
from daemon.logs import get_logger
from daemon.text import NOT_STORABLE, storable_text
from daemon.web.context import MAX_BODY

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def error_body(status: int, message: str, **extra: str) -> web.Response:
    return web.json_response({"error": message, **extra}, status=status)


def unstorable_parameter(request: web.Request) -> str | None:
    """The first path or query parameter PostgreSQL could not take as text (NUL, lone surrogate)."""
    for kind, values in (("path", request.match_info), ("query", request.query)):
        for name, value in values.items():
            if not storable_text(value):
                return f"{kind}.{name}"
    return None


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    if (parameter := unstorable_parameter(request)) is not None:
        return error_body(400, f"{parameter}: {NOT_STORABLE}", field=parameter)
    try:
        return await handler(request)
    except InputError as exc:
        return error_body(400, str(exc), field=exc.field)
    except NotFoundError as exc:
        return error_body(404, str(exc))
    except CredentialError as exc:  # names the credential, never its value
        return error_body(503, str(exc))
    except web.HTTPRequestEntityTooLarge:
        return error_body(413, f"body larger than {request.app[MAX_BODY]} bytes")
    except web.HTTPException:
        raise
    except DATABASE_UNAVAILABLE as exc:
        get_logger().warning("database_unavailable", path=request.path, error=type(exc).__name__)
        return error_body(503, "database unavailable; nothing was accepted, retry later")
