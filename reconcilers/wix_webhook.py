"""Wix webhook deliveries (pure: no I/O): the whole POST body is a JWT signed RS256 by Wix, verified
with the app's public key; its claims carry `data`, a JSON string of the envelope {eventType,
instanceId, data (JSON string of the event), identity (JSON string: who made the change)}.

Verification never raises: a malformed token, another algorithm than RS256 (no "none", no HMAC with
the public key as secret), a bad signature or an expired `exp` all answer False. Decoding raises
InputError naming the part it could not read. See reconcilers/wix.py.
"""

from __future__ import annotations

import base64
import binascii
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from daemon.errors import InputError
from reconcilers.interface import Notification
from reconcilers.webhook_json import MAX_BODY_BYTES, load_webhook_json, webhook_time
from reconcilers.wix_items import as_observed, dig

_JWS = re.compile(rb"[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,}")
EXPIRY_LEEWAY_S = 60.0  # clock difference between Wix and us
ITEM_EVENTS = frozenset(
    {
        "wix.stores.catalog.v3.inventory_item_updated",
        "wix.stores.catalog.v3.inventory_item_updated_with_reason",
    }
)
V1_EVENTS = frozenset(
    {
        "com.wix.ecommerce.inventory.api.v1.InventoryVariantsChanged",
        "com.wix.ecommerce.inventory.api.v1.InventoryItemChanged",
    }
)


@dataclass(frozen=True, slots=True)
class Envelope:
    """One delivery, decoded."""

    event_type: str
    instance_id: str | None
    event: Mapping[str, Any]  # the event body: id, eventTime, entityId, updatedEvent / actionEvent...
    identity: Mapping[str, Any]  # identityType and appId / wixUserId... of who made the change


def public_key(pem: str) -> rsa.RSAPublicKey | None:
    """The app's RSA public key from its PEM text (None: not an RSA public key)."""
    try:
        key = serialization.load_pem_public_key(pem.strip().encode())
    except (ValueError, TypeError):
        return None
    return key if isinstance(key, rsa.RSAPublicKey) else None


def verify_jwt(key: rsa.RSAPublicKey | None, body: bytes, now: float | None = None) -> bool:
    """True when `body` is exactly one RS256 JWT signed with `key` and not expired."""
    if key is None or len(body) > MAX_BODY_BYTES or not _JWS.fullmatch(body):
        return False
    head, claims, signature = body.split(b".")
    try:
        header = load_webhook_json(_unb64(head))
        if not isinstance(header, dict) or header.get("alg") != "RS256":
            return False  # checked first: no "none", no HMAC keyed with the public key
        key.verify(_unb64(signature), head + b"." + claims, padding.PKCS1v15(), hashes.SHA256())
        payload = load_webhook_json(_unb64(claims))
    except (InputError, InvalidSignature, ValueError):
        return False
    if not isinstance(payload, dict):
        return False
    expires = payload.get("exp")
    if expires is None:
        return True
    if isinstance(expires, bool) or not isinstance(expires, int | float):
        return False
    return (time.time() if now is None else now) <= expires + EXPIRY_LEEWAY_S


def envelope(body: bytes) -> Envelope:
    """The delivery's envelope and event (the signature is checked by verify_jwt, not here)."""
    if len(body) > MAX_BODY_BYTES or not _JWS.fullmatch(body):
        raise InputError("webhook", "body", "not a JWT (header.payload.signature in base64url)")
    try:
        claims = load_webhook_json(_unb64(body.split(b".")[1]))
    except ValueError:
        raise InputError("webhook", "body", "the JWT payload is not base64url") from None
    outer = _json_member(claims, "data", "data")
    event_type = outer.get("eventType")
    if not isinstance(event_type, str) or not event_type:
        raise InputError("webhook", "data.eventType", "missing or not text")
    instance = outer.get("instanceId")
    if instance is not None and not isinstance(instance, str):
        raise InputError("webhook", "data.instanceId", "not text")
    identity = _json_member(outer, "identity", "data.identity") if outer.get("identity") else {}
    event = _json_member(outer, "data", "data.data")
    return Envelope(event_type[:200], instance, event, identity)


@dataclass(frozen=True, slots=True)
class Audience:
    """Which deliveries are this store's news: its app instance, its location, its catalog."""

    app_id: str | None  # our app: changes it made are our echoes, never drift
    instance_id: str | None
    location_id: str | None
    catalog: str | None  # "V1_CATALOG" / "V3_CATALOG" when known


def notification(delivery: Envelope, ours: Audience) -> Notification:
    """What a delivery tells this store: the V3 item as it is now, a re-read (V1 events name changed
    fields only), or nothing (another site, our own write, another location, another topic)."""
    event = delivery.event
    event_id = event.get("id")
    delivery_id = event_id[:100] if isinstance(event_id, str) and event_id else None
    v1 = delivery.event_type in V1_EVENTS
    occurred = webhook_time(event, "updatedDate" if v1 else "eventTime", "data.data.eventTime")
    quiet = Notification(delivery_id=delivery_id, occurred_at=occurred)
    author = delivery.identity.get("appId") or dig(event, "actionEvent", "body", "appId")
    if ours.instance_id is not None and delivery.instance_id != ours.instance_id:
        return quiet  # another site's event
    if ours.app_id is not None and author == ours.app_id:
        return quiet  # our own write: the confirmation we recorded is the truth, not drift
    if v1:  # V1 events also fire on V3 sites; there the V3 event is the one to read
        on_v3 = "V3_CATALOG" in (ours.catalog, event.get("catalogVersion"))
        return quiet if on_v3 else Notification(delivery_id=delivery_id, occurred_at=occurred, reread=True)
    if delivery.event_type not in ITEM_EVENTS:
        return quiet
    entity = dig(event, "updatedEvent", "currentEntity") or dig(event, "actionEvent", "body", "currentEntity")
    if not isinstance(entity, dict):
        raise InputError("webhook", "data.data.updatedEvent.currentEntity", "missing or not an object")
    if ours.location_id is not None and entity.get("locationId") != ours.location_id:
        return quiet
    if not {"quantity", "inStock", "trackQuantity"} & set(entity):  # only some fields: read it anew
        return Notification(delivery_id=delivery_id, occurred_at=occurred, reread=True)
    item_id = entity.get("id")
    if not isinstance(item_id, str) or not item_id:
        raise InputError("webhook", "data.data.updatedEvent.currentEntity.id", "missing or not text")
    return Notification([as_observed(item_id, entity)], delivery_id=delivery_id, occurred_at=occurred)


def _json_member(obj: Any, name: str, field: str) -> Mapping[str, Any]:
    """A member that is an object or (as Wix sends it) a JSON string of one."""
    value = obj.get(name) if isinstance(obj, Mapping) else None
    if isinstance(value, str):
        value = load_webhook_json(value.encode(), "webhook " + field)
    if not isinstance(value, dict):
        raise InputError("webhook", field, "missing or not a JSON object")
    return value


def _unb64(part: bytes) -> bytes:
    try:
        return base64.urlsafe_b64decode(part + b"=" * (-len(part) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError("not base64url") from exc
