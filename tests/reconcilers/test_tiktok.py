"""TiktokReconciler at the wire (aioresponses): exact signed requests and every documented answer shape."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest
from aioresponses import aioresponses
from yarl import URL

from daemon.credentials import Secret
from daemon.errors import InputError
from daemon.model import Availability, Change, FailureKind, StoreConfig, StoreMode, StoreRules, SyncedVariant
from reconcilers import tiktok_auth, tokens
from reconcilers.interface import ReconcilerContext
from reconcilers.tiktok import TiktokReconciler
from reconcilers.tiktok_auth import sign
from reconcilers.transport import AuthError, TemporaryError
from tests.reconcilers.wire import quick_transport

FIXTURES = Path(__file__).parent / "fixtures" / "tiktok"
APP_KEY, APP_SECRET, TOKEN, REFRESH = (
    "38abcd",
    "tiktok-app-secret-0123",
    "TTP_access_0123",
    "TTP_refresh_0123",
)
CIPHER, NOW = "ROW_RHkDDABBAAB8tKAVoAqsMTjsQZFLyNfY", 1_765_000_000
BASE = "https://open-api.tiktokglobalshop.com"
SEARCH = f"{BASE}/product/202309/inventory/search"
P1, P2 = "1729592969712207008", "1729592969712207009"
S1, S2, S3, S4 = "1729388324987897824", "1729388324987897825", "1729388324987897826", "1729388324987897830"
WAREHOUSE = "7054915283043174149"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())


@pytest.fixture(autouse=True)
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tiktok_auth, "time", SimpleNamespace(time=lambda: NOW))
    monkeypatch.setattr(tokens, "KEPT", {})


def credential(**extra: str) -> Secret:
    fields = {"app_key": APP_KEY, "app_secret": APP_SECRET, "access_token": TOKEN, "refresh_token": REFRESH}
    return Secret("tt", json.dumps({**fields, "shop_cipher": CIPHER, **extra}))


def reconciler(
    session: aiohttp.ClientSession,
    mode: StoreMode = StoreMode.STATUS,
    secret: Secret | None = None,
    **settings: Any,
) -> TiktokReconciler:
    store = StoreConfig(
        "t1", "tiktok", "us", "tt", rules=StoreRules(mode=mode, pod_quantity=30), settings=settings
    )
    transport = quick_transport(session, "tiktok", "t1")
    return TiktokReconciler(ReconcilerContext(store, transport, secret or credential()))


def ext(product: str, sku: str) -> str:
    return f"{product}:{sku}"


def synced(*ids: str) -> list[SyncedVariant]:
    return [SyncedVariant("t1", i, f"up-{i}") for i in ids]


def calls(mocked: aioresponses) -> list[tuple[str, URL, dict[str, Any]]]:
    return [(method, url, call.kwargs) for (method, url), sent in mocked.requests.items() for call in sent]


def assert_signed(url: URL, kwargs: dict[str, Any], body: bytes) -> None:
    """The documented common parameters and a sign recomputed from the request as sent."""
    params = dict(kwargs["params"])
    assert {k: params[k] for k in ("app_key", "shop_cipher", "timestamp")} == {
        "app_key": APP_KEY,
        "shop_cipher": CIPHER,
        "timestamp": str(NOW),
    }
    assert kwargs["data"] == body
    assert kwargs["headers"] == {"Content-Type": "application/json", "x-tts-access-token": TOKEN}
    assert params["sign"] == sign(APP_SECRET, url.path, params, body)


def test_sign_follows_the_documented_recipe_a_test_vector() -> None:
    params = {
        "app_key": "38abcd",
        "timestamp": "1625484268",
        "shop_cipher": "ROW_vector",
        "sign": "x",
        "access_token": "t",
    }
    body = b'{"sku_ids":["1729388324987897824"]}'
    # app_secret + path + sorted {key}{value} without sign/access_token + body + app_secret, HMAC-SHA256 hex
    assert sign("app-secret-vector", "/product/202309/inventory/search", params, body) == (
        "c60513cb67646bcb0ab7b42da5b9593d85c2677323ab82098d396a1d9a2c1a68"
    )
    wrapped = b"k/pa1b2k"
    assert sign("k", "/p", {"b": "2", "a": "1"}) == hmac.new(b"k", wrapped, hashlib.sha256).hexdigest()


async def test_observe_searches_by_sku_ids_signed_and_maps_the_full_answer(
    session: aiohttp.ClientSession,
) -> None:
    with aioresponses() as mocked:
        mocked.post(re.compile(re.escape(SEARCH) + r"\?.*"), payload=fixture("full"))
        wanted = [ext(P1, S1), ext(P1, S2), ext(P1, S3), ext(P2, S4), ext(P2, "1729388324987899999")]
        seen = {o.external_id: o for o in await reconciler(session).observe(synced(*wanted))}
        [(method, url, kwargs)] = calls(mocked)
    assert method == "POST" and url.path == "/product/202309/inventory/search"
    ids = sorted([S1, S2, S3, S4, "1729388324987899999"])
    assert_signed(url, kwargs, json.dumps({"sku_ids": ids}, separators=(",", ":")).encode())
    one = seen[ext(P1, S1)]
    assert (one.available, one.quantity, one.platform_ref) == (True, 100, {"warehouse_id": WAREHOUSE})
    assert (seen[ext(P1, S2)].available, seen[ext(P1, S2)].quantity) == (False, 0)
    assert "2 warehouses" in str(seen[ext(P1, S3)].problem)
    assert "3000000000" in str(seen[ext(P2, S4)].problem)
    assert ext(P2, "1729388324987899999") not in seen  # not answered: gone


async def test_minimal_zero_and_untracked_answers(session: aiohttp.ClientSession) -> None:
    with aioresponses() as mocked:
        for name in ("minimal", "zero", "untracked"):
            mocked.post(re.compile(re.escape(SEARCH) + r"\?.*"), payload=fixture(name))
        r = reconciler(session)
        [minimal] = await r.observe(synced(ext(P1, S1)))
        [zero] = await r.observe(synced(ext(P1, S1)))
        untracked = {o.external_id: o for o in await r.observe(synced(ext(P1, S1), ext(P1, S2)))}
    assert (minimal.available, minimal.quantity) == (True, 4)
    assert (zero.available, zero.quantity, zero.problem) == (False, 0, None)
    assert "no warehouse" in str(untracked[ext(P1, S1)].problem)
    assert "not a whole number" in str(untracked[ext(P1, S2)].problem)
    assert all(o.quantity is None for o in untracked.values())


async def test_observe_reads_600_skus_per_request(session: aiohttp.ClientSession) -> None:
    many = [ext(P1, f"17293883249879{n:05d}") for n in range(601)]
    with aioresponses() as mocked:
        mocked.post(
            re.compile(re.escape(SEARCH) + r"\?.*"),
            payload={"code": 0, "data": {"inventory": []}},
            repeat=True,
        )
        assert await reconciler(session).observe(synced(*many)) == []
        sizes = [len(json.loads(kwargs["data"])["sku_ids"]) for _, _, kwargs in calls(mocked)]
    assert sizes == [600, 1]


async def test_a_numeric_id_in_the_answer_is_bad_input_not_converted(session: aiohttp.ClientSession) -> None:
    answer = {"code": 0, "data": {"inventory": [{"product_id": int(P1), "skus": []}]}}
    with aioresponses() as mocked:
        mocked.post(re.compile(re.escape(SEARCH) + r"\?.*"), payload=answer)
        with pytest.raises(TemporaryError, match="product_id"):
            await reconciler(session).observe(synced(ext(P1, S1)))


async def test_a_sku_outside_the_configured_warehouse_is_a_problem(session: aiohttp.ClientSession) -> None:
    with aioresponses() as mocked:
        mocked.post(re.compile(re.escape(SEARCH) + r"\?.*"), payload=fixture("minimal"))
        [seen] = await reconciler(session, warehouse_id="7054915283043174150").observe(synced(ext(P1, S1)))
    assert seen.problem is not None and "7054915283043174150" in seen.problem


def change(external_id: str, available: bool, quantity: int | None = None, **kw: Any) -> Change:
    return Change(
        external_id, Availability(available, quantity, **kw), platform_ref={"warehouse_id": WAREHOUSE}
    )


UPDATE = f"{BASE}/product/202309/products/{P1}/inventory/update"


async def test_apply_writes_one_products_skus_absolute_and_confirms(session: aiohttp.ClientSession) -> None:
    with aioresponses() as mocked:
        mocked.post(
            re.compile(re.escape(UPDATE) + r"\?.*"), payload={"code": 0, "message": "Success", "data": {}}
        )
        result = await reconciler(session).apply([change(ext(P1, S1), False), change(ext(P1, S2), True)])
        [(method, url, kwargs)] = calls(mocked)
    body = {
        "skus": [
            {"id": S1, "inventory": [{"quantity": 0, "warehouse_id": WAREHOUSE}]},
            {"id": S2, "inventory": [{"quantity": 30, "warehouse_id": WAREHOUSE}]},  # status mode: POD
        ]
    }
    assert method == "POST" and url.path == f"/product/202309/products/{P1}/inventory/update"
    assert_signed(url, kwargs, json.dumps(body, separators=(",", ":")).encode())
    assert [(c.external_id, c.available, c.quantity) for c in result.confirmed] == [
        (ext(P1, S1), False, 0),
        (ext(P1, S2), True, 30),
    ]


async def test_quantity_mode_caps_at_99999_and_unlimited_writes_in_stock_quantity(
    session: aiohttp.ClientSession,
) -> None:
    with aioresponses() as mocked:
        mocked.post(re.compile(re.escape(UPDATE) + r"\?.*"), payload={"code": 0, "data": {}})
        r = reconciler(session, StoreMode.QUANTITY, in_stock_quantity=7)
        await r.apply([change(ext(P1, S1), True, 250_000), change(ext(P1, S2), True, None, unlimited=True)])
        [(_, _, kwargs)] = calls(mocked)
    quantities = [s["inventory"][0]["quantity"] for s in json.loads(kwargs["data"])["skus"]]
    assert quantities == [99_999, 7]


async def test_per_sku_errors_fail_only_those_skus(session: aiohttp.ClientSession) -> None:
    with aioresponses() as mocked:
        mocked.post(re.compile(re.escape(UPDATE) + r"\?.*"), payload=fixture("error"))
        result = await reconciler(session).apply(
            [change(ext(P1, S1), True), change(ext(P1, S2), True), change(ext(P1, S3), False)]
        )
    failed = {f.external_id: f for f in result.failed}
    assert failed[ext(P1, S1)].kind is FailureKind.PERMANENT and "12052990" in failed[ext(P1, S1)].reason
    assert failed[ext(P1, S2)].kind is FailureKind.TEMPORARY  # 36009003: internal error, try again
    assert [c.external_id for c in result.confirmed] == [ext(P1, S3)]


async def test_a_non_zero_code_with_http_200_is_an_error(session: aiohttp.ClientSession) -> None:
    refused = {
        "code": 12052901,
        "message": "The product in its current status is not available",
        "data": None,
    }
    with aioresponses() as mocked:
        mocked.post(re.compile(re.escape(UPDATE) + r"\?.*"), payload=refused)
        result = await reconciler(session).apply([change(ext(P1, S1), True)])
    [failure] = result.failed
    assert failure.kind is FailureKind.PERMANENT and "12052901" in failure.reason


async def test_a_throttle_code_in_a_200_answer_is_retried(session: aiohttp.ClientSession) -> None:
    with aioresponses() as mocked:
        pattern = re.compile(re.escape(UPDATE) + r"\?.*")
        mocked.post(pattern, payload={"code": 36009002, "message": "Too many requests."})
        mocked.post(pattern, status=429, payload={"code": 36009002, "message": "Too many requests."})
        mocked.post(pattern, payload={"code": 0, "data": {}})
        result = await reconciler(session).apply([change(ext(P1, S1), True)])
        assert len(calls(mocked)) == 3
    assert [c.external_id for c in result.confirmed] == [ext(P1, S1)]


async def test_refused_credentials_are_auth_failures_without_a_refresh(
    session: aiohttp.ClientSession,
) -> None:
    with aioresponses() as mocked:
        mocked.post(
            re.compile(re.escape(SEARCH) + r"\?.*"), payload={"code": 106001, "message": "Invalid sign"}
        )
        with pytest.raises(AuthError, match="106001"):
            await reconciler(session).observe(synced(ext(P1, S1)))
        assert len(calls(mocked)) == 1  # a bad sign is not a token problem: no refresh


async def test_a_stale_timestamp_is_temporary_not_a_refused_credential(
    session: aiohttp.ClientSession,
) -> None:
    stale = {
        "code": 36009004,
        "message": "Invalid timestamp. The value of the `timestamp` query parameter must not be earlier than 5 minutes before the current time.",
    }
    with aioresponses() as mocked:
        mocked.post(re.compile(re.escape(UPDATE) + r"\?.*"), status=400, payload=stale)
        result = await reconciler(session).apply([change(ext(P1, S1), True)])
    assert [f.kind for f in result.failed] == [FailureKind.TEMPORARY]


async def test_an_expired_token_is_refreshed_once_and_kept_for_the_store(
    session: aiohttp.ClientSession,
) -> None:
    refresh_url = "https://auth.tiktok-shops.com/api/v2/token/refresh"
    renewed = {
        "access_token": "TTP_new_access",
        "access_token_expire_in": NOW + 604800,
        "refresh_token": "TTP_new_refresh",
    }
    with aioresponses() as mocked:
        pattern = re.compile(re.escape(SEARCH) + r"\?.*")
        mocked.post(pattern, status=401, payload={"code": 105002, "message": "Expired credentials."})
        mocked.get(
            re.compile(re.escape(refresh_url) + r"\?.*"),
            payload={"code": 0, "message": "success", "data": renewed},
        )
        mocked.post(pattern, payload=fixture("minimal"), repeat=True)
        [seen] = await reconciler(session).observe(synced(ext(P1, S1)))
        await reconciler(session).observe(synced(ext(P1, S1)))  # a new reconciler of the same store
        sent = calls(mocked)
    assert seen.quantity == 4
    refresh = [kwargs for method, _, kwargs in sent if method == "GET"]
    assert refresh == [
        {
            **refresh[0],
            "params": {
                "app_key": APP_KEY,
                "app_secret": APP_SECRET,
                "refresh_token": REFRESH,
                "grant_type": "refresh_token",
            },
        }
    ]
    tokens = [kwargs["headers"]["x-tts-access-token"] for method, _, kwargs in sent if method == "POST"]
    assert tokens == [TOKEN, "TTP_new_access", "TTP_new_access"]


async def test_a_malformed_external_id_is_refused_without_a_request(session: aiohttp.ClientSession) -> None:
    with aioresponses() as mocked:
        result = await reconciler(session).apply([change("12:ab", True)])
        assert calls(mocked) == []
    assert [f.kind for f in result.failed] == [FailureKind.PERMANENT]


def signed(body: bytes, secret: str = APP_SECRET) -> dict[str, str]:
    return {"Authorization": hmac.new(secret.encode(), APP_KEY.encode() + body, hashlib.sha256).hexdigest()}


async def test_webhook_signature_is_app_key_plus_body(session: aiohttp.ClientSession) -> None:
    r = reconciler(session)
    body = b'{"type":27,"data":{"product_id":"1729592969712207008"}}'
    assert r.verify_webhook(signed(body), body)
    assert not r.verify_webhook(signed(body, "another-secret"), body)
    assert not r.verify_webhook(
        {"Authorization": hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()}, body
    )
    assert not r.verify_webhook({}, body)


async def test_an_inventory_notification_rereads_its_product(session: aiohttp.ClientSession) -> None:
    event = {
        "type": 27,
        "tts_notification_id": "7327112393057371910",
        "shop_id": "7494049642642441621",
        "timestamp": 1644412885,
        "data": {
            "product_id": P1,
            "sku_id": S1,
            "current_inventory_status": "OUT_OF_STOCK",
            "update_time": 1627587600,
        },
    }
    note = reconciler(session).parse_webhook({}, json.dumps(event).encode())
    assert note.reread_products == {P1} and list(note) == []
    assert note.delivery_id == "7327112393057371910"
    assert note.occurred_at is not None and int(note.occurred_at.timestamp()) == 1627587600


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ({"type": 27, "data": {"product_id": int(P1)}}, "data.product_id"),  # a number: not an id
        ({"type": "27", "data": {"product_id": P1}}, "type"),
        ({"type": 27}, "data"),
        ({"type": 27, "timestamp": "soon", "data": {"product_id": P1}}, "timestamp"),
        ({"type": 27, "tts_notification_id": 5, "data": {"product_id": P1}}, "tts_notification_id"),
    ],
)
async def test_bad_notifications_name_the_field(
    session: aiohttp.ClientSession, event: Any, field: str
) -> None:
    with pytest.raises(InputError, match=re.escape(field)):
        reconciler(session).parse_webhook({}, json.dumps(event).encode())


async def test_a_notification_naming_no_product_changes_nothing(session: aiohttp.ClientSession) -> None:
    event = {"type": 1, "tts_notification_id": "1", "timestamp": 1644412885, "data": {"order_id": "576"}}
    note = reconciler(session).parse_webhook({}, json.dumps(event).encode())
    assert list(note) == [] and not note.reread and note.reread_products == frozenset()


async def test_with_a_shop_id_another_shops_notification_changes_nothing(
    session: aiohttp.ClientSession,
) -> None:
    event = {"type": 27, "shop_id": "7494049642642441621", "data": {"product_id": P1}}
    body = json.dumps(event).encode()
    assert reconciler(session, shop_id="7494049642642441621").parse_webhook({}, body).reread_products == {P1}
    assert (
        reconciler(session, shop_id="7000000000000000001").parse_webhook({}, body).reread_products
        == frozenset()
    )
