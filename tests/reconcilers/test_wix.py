"""WixReconciler at the wire (aioresponses): exact requests and every documented answer shape."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aioresponses import aioresponses
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from yarl import URL

from daemon.credentials import Secret
from daemon.errors import ConfigError, CredentialError, InputError
from daemon.model import Availability, Change, FailureKind, Observed, StoreConfig, SyncedVariant
from reconcilers.batching import CANNOT_ENFORCE
from reconcilers.interface import ReconcilerContext
from reconcilers.ratelimit import LeakyBucketPacer
from reconcilers.transport import AuthError, RetryPolicy, Transport
from reconcilers.wix import WixReconciler
from tests.reconcilers.fakes.wix_fake import sign_jwt

FIXTURES = Path(__file__).parent / "fixtures" / "wix"
BASE = "https://www.wixapis.com"
URL_VERSION = BASE + "/stores/v3/provision/version"
URL_QUERY = BASE + "/stores/v3/inventory-items/query"
URL_UPDATE = BASE + "/stores/v3/bulk/inventory-items/update"
API_TOKEN, SITE = "IST.wix-api-key-0123456789", "site-5d1c"
APP_SECRET = "wix-app-secret-42"
OUR_APP = "0c9f2a77-our-app"
A, B, C, D = (f"a1a1a1a1-0000-4000-8000-00000000000{x}" for x in "abcd")
ITEM1, ITEM2 = "1b2c3d4e-0000-4000-8000-000000000001", "1b2c3d4e-0000-4000-8000-000000000002"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PEM = KEY.public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
)
CREDENTIAL = Secret("wix-site", json.dumps({"api_key": API_TOKEN, "public_key": PEM.decode()}))
V3 = {"catalogVersion": "V3_CATALOG"}


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def reconciler(
    session: aiohttp.ClientSession, credential: Secret = CREDENTIAL, **settings: Any
) -> WixReconciler:
    values = {"site_id": SITE, "app_id": OUR_APP, "instance_id": "inst-1", **settings}
    store = StoreConfig(
        "w1", "wix", "europe", "wix-site", settings={k: v for k, v in values.items() if v is not None}
    )
    transport = Transport(
        session, platform="wix", store_id="w1", pacer=LeakyBucketPacer(1000, 1000), retry=RetryPolicy(3, 0.01)
    )
    return WixReconciler(ReconcilerContext(store, transport, credential))


def variants(*ids: str) -> list[SyncedVariant]:
    return [SyncedVariant("w1", i, f"up-{i}") for i in ids]


def calls(mocked: aioresponses, method: str, url: str) -> list[Any]:
    return mocked.requests.get((method, URL(url)), [])


def ref(item: str, revision: str, tracking: str = "quantity") -> dict[str, Any]:
    return {"inventory_item_id": item, "revision": revision, "tracking": tracking}


async def test_observe_detects_the_catalog_then_queries_the_variants(session: aiohttp.ClientSession) -> None:
    with aioresponses() as m:
        m.get(URL_VERSION, payload=V3)
        m.post(URL_QUERY, payload=fixture("full"))
        got = await reconciler(session).observe(variants(A, B, C, D, "not-in-wix"))
    assert got[0] == Observed(A, True, 12, {**ref(ITEM1, "7")})
    assert got[1] == Observed(B, True, None, ref(ITEM2, "3", "status"), unlimited=True)
    assert got[2].external_id == C and got[2].available is None and "pre-orders" in str(got[2].problem)
    assert (got[2].platform_ref or {}).get(CANNOT_ENFORCE)  # never written
    assert (got[3].external_id, got[3].available, got[3].quantity) == (
        D,
        False,
        -2,
    )  # oversold after paid orders
    assert len(got) == 4  # the unknown variant is absent
    (version,) = calls(m, "GET", URL_VERSION)
    assert version.kwargs["headers"] == {"Authorization": API_TOKEN, "wix-site-id": SITE}  # no "Bearer"
    (query,) = calls(m, "POST", URL_QUERY)
    assert query.kwargs["json"] == {
        "query": {
            "cursorPaging": {"limit": 1000},
            "filter": {"variantId": {"$in": [A, B, C, D, "not-in-wix"]}},
        }
    }


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("minimal", [Observed(A, True, 4, ref(ITEM1, "1"))]),
        ("zero", [Observed(A, False, 0, ref(ITEM1, "9"))]),  # a zero count left out of the JSON
        (
            "untracked",
            [
                Observed(A, True, None, ref(ITEM1, "4", "status"), unlimited=True),
                Observed(B, False, None, ref(ITEM2, "5", "status")),  # inStock false left out
            ],
        ),
    ],
)
async def test_observe_shapes(session: aiohttp.ClientSession, name: str, expected: list[Observed]) -> None:
    with aioresponses() as m:
        m.post(URL_QUERY, payload=fixture(name))
        assert await reconciler(session, catalog_version="V3").observe(variants(A, B)) == expected
        assert calls(m, "GET", URL_VERSION) == []  # the setting stands for the detection


async def test_observe_follows_cursors_sending_only_the_cursor(session: aiohttp.ClientSession) -> None:
    first, second = fixture("full"), fixture("minimal")
    first["inventoryItems"] = first["inventoryItems"][:1]
    first["pagingMetadata"] = {"count": 1, "cursors": {"next": "CURSOR-2"}, "hasNext": True}
    second["inventoryItems"][0].update(variantId=B, id=ITEM2)
    with aioresponses() as m:
        m.post(URL_QUERY, payload=first)
        m.post(URL_QUERY, payload=second)
        got = await reconciler(session, catalog_version="V3", location_id="loc-9").observe(variants(A, B))
    assert [(o.external_id, o.quantity) for o in got] == [(A, 12), (B, 4)]
    bodies = [c.kwargs["json"] for c in calls(m, "POST", URL_QUERY)]
    assert bodies[0]["query"]["filter"] == {"variantId": {"$in": [A, B]}, "locationId": "loc-9"}
    assert bodies[1] == {"query": {"cursorPaging": {"limit": 1000, "cursor": "CURSOR-2"}}}


async def test_a_variant_at_several_locations_needs_a_location_id(session: aiohttp.ClientSession) -> None:
    answer = fixture("minimal")
    answer["inventoryItems"].append({**answer["inventoryItems"][0], "id": ITEM2, "locationId": "other"})
    with aioresponses() as m:
        m.post(URL_QUERY, payload=answer)
        [seen] = await reconciler(session, catalog_version="V3").observe(variants(A))
    assert seen.problem is not None and "location_id" in seen.problem


@pytest.mark.parametrize(("version", "words"), [("STORES_NOT_INSTALLED", "not installed"), ("V9", "V9")])
async def test_other_catalogs_are_refused_per_item_without_reading_or_writing(
    session: aiohttp.ClientSession, version: str, words: str
) -> None:
    with aioresponses() as m:
        m.get(URL_VERSION, payload={"catalogVersion": version})
        wix = reconciler(session)
        [seen] = await wix.observe(variants(A))
        result = await wix.apply([Change(A, Availability(False, 0), platform_ref=ref(ITEM1, "1"))])
        assert calls(m, "POST", URL_QUERY) == [] and calls(m, "POST", URL_UPDATE) == []
    assert seen.problem is not None and words in seen.problem
    assert [f.kind for f in result.failed] == [FailureKind.PROBLEM]
    assert len(calls(m, "GET", URL_VERSION)) == 1  # detected once per reconciler


async def test_apply_sends_absolute_values_with_the_revisions_and_maps_each_item(
    session: aiohttp.ClientSession,
) -> None:
    changes = [
        Change(A, Availability(False, 0), platform_ref=ref(ITEM1, "7")),
        Change(B, Availability(True, 5), platform_ref=ref(ITEM2, "3", "status")),  # quantity mode: a count
    ]
    with aioresponses() as m:
        m.post(URL_UPDATE, payload=fixture("bulk_update"))
        result = await reconciler(session, catalog_version="V3").apply(changes)
    (call,) = calls(m, "POST", URL_UPDATE)
    assert call.kwargs["json"] == {
        "inventoryItems": [
            {"inventoryItem": {"id": ITEM1, "revision": "7", "quantity": 0}},
            {"inventoryItem": {"id": ITEM2, "revision": "3", "quantity": 5}},
        ],
        "returnEntity": True,
    }
    assert result.confirmed == (Observed(A, False, 0, ref(ITEM1, "8")),)  # the new revision is kept
    [failure] = result.failed
    assert failure.external_id == B and failure.kind is FailureKind.PERMANENT
    assert "INVALID_INVENTORY_ITEM" in failure.reason


async def test_status_mode_keeps_each_items_tracking_method(session: aiohttp.ClientSession) -> None:
    changes = [
        Change(A, Availability(True, None), platform_ref=ref(ITEM1, "1")),
        Change(B, Availability(True, None), platform_ref=ref(ITEM2, "2", "status")),
        Change(C, Availability(False, None), platform_ref=ref("item-c", "3", "status")),
        Change(D, Availability(False, None), platform_ref=ref("item-d", "4")),
    ]
    with aioresponses() as m:
        m.post(URL_UPDATE, payload={"results": [], "bulkActionMetadata": {"undetailedFailures": 4}})
        result = await reconciler(session, catalog_version="V3", in_stock_quantity=7).apply(changes)
    sent = [e["inventoryItem"] for e in calls(m, "POST", URL_UPDATE)[0].kwargs["json"]["inventoryItems"]]
    assert sent == [
        {"id": ITEM1, "revision": "1", "quantity": 7},
        {"id": ITEM2, "revision": "2", "inStock": True},  # in-stock tracking: sells without a limit
        {"id": "item-c", "revision": "3", "inStock": False},
        {"id": "item-d", "revision": "4", "quantity": 0},
    ]
    assert [f.kind for f in result.failed] == [FailureKind.TEMPORARY] * 4  # undetailed: retried


async def test_unsendable_changes_fail_without_a_request(session: aiohttp.ClientSession) -> None:
    changes = [
        Change(A, Availability(True, 3)),  # never observed: no item, no revision
        Change(B, Availability(True, 2_000_000), platform_ref=ref(ITEM2, "1")),
    ]
    with aioresponses() as m:
        result = await reconciler(session, catalog_version="V3").apply(changes)
        assert calls(m, "POST", URL_UPDATE) == []
    assert [f.kind for f in result.failed] == [FailureKind.PERMANENT, FailureKind.PERMANENT]
    assert "observe first" in result.failed[0].reason and "1000000" in result.failed[1].reason


async def test_a_stale_revision_fails_that_item_and_retries_the_others(
    session: aiohttp.ClientSession,
) -> None:
    changes = [
        Change(A, Availability(False, 0), platform_ref=ref(ITEM1, "7")),
        Change(B, Availability(False, None), platform_ref=ref(ITEM2, "3", "status")),
    ]
    now = fixture("full")  # ITEM1 moved to revision 8 (a merchant's edit); ITEM2 is still at 3
    now["inventoryItems"][0]["revision"] = "8"
    with aioresponses() as m:
        m.post(URL_UPDATE, status=428, payload=fixture("error"))
        m.post(URL_QUERY, payload=now)
        result = await reconciler(session, catalog_version="V3").apply(changes)
    assert len(calls(m, "POST", URL_UPDATE)) == 1  # a 428 is not retried as is
    kinds = {f.external_id: (f.kind, f.reason) for f in result.failed}
    assert kinds[A][0] is FailureKind.PERMANENT and "compare-and-set" in kinds[A][1]
    assert "REVISION_MISMATCH" in kinds[A][1] or "revision 7" in kinds[A][1]
    assert kinds[B][0] is FailureKind.TEMPORARY


async def test_a_428_whose_re_read_fails_refuses_every_item_permanently(
    session: aiohttp.ClientSession,
) -> None:
    changes = [Change(A, Availability(False, 0), platform_ref=ref(ITEM1, "7"))]
    with aioresponses() as m:
        m.post(URL_UPDATE, status=428, payload=fixture("error"))
        for _ in range(3):
            m.post(URL_QUERY, status=503)
        result = await reconciler(session, catalog_version="V3").apply(changes)
    assert [(f.kind, "compare-and-set" in f.reason) for f in result.failed] == [(FailureKind.PERMANENT, True)]


async def test_a_refused_key_is_auth_and_never_leaks(session: aiohttp.ClientSession) -> None:
    body = {"message": f"bad key {API_TOKEN}", "details": {"applicationError": {"code": "UNAUTHENTICATED"}}}
    with aioresponses() as m:
        m.get(URL_VERSION, status=401, payload=body)
        m.get(URL_VERSION, status=401, payload=body)
        wix = reconciler(session)
        with pytest.raises(AuthError) as caught:
            await wix.observe(variants(A))
        result = await wix.apply([Change(A, Availability(False, 0), platform_ref=ref(ITEM1, "1"))])
    assert API_TOKEN not in str(caught.value) and "401" in str(caught.value)
    assert [f.kind for f in result.failed] == [FailureKind.AUTH]


async def test_a_429_without_retry_after_is_waited_out(session: aiohttp.ClientSession) -> None:
    with aioresponses() as m:
        m.post(URL_QUERY, status=429, payload={"message": "Too many requests"})
        m.post(URL_QUERY, status=503)
        m.post(URL_QUERY, payload=fixture("zero"))
        got = await reconciler(session, catalog_version="V3").observe(variants(A))
    assert [(o.available, o.quantity) for o in got] == [(False, 0)]


URL_V1_QUERY = BASE + "/stores/v2/inventoryItems/query"
P1, P2, NO_OPTIONS = "p1p1p1p1-0000-4000-8000-0000000000f1", "p2", "00000000-0000-0000-0000-000000000000"
V1_ITEMS = {
    "inventoryItems": [
        {
            "id": "inv-1",
            "productId": P1,
            "trackQuantity": True,
            "variants": [
                {"variantId": "v-red", "inStock": True, "quantity": 3},
                {"variantId": "v-blue", "inStock": False, "quantity": 0},
            ],
            "lastUpdated": "2026-12-01T10:00:00.000Z",
            "numericId": "1598904314932014",
        },
        {
            "id": "inv-2",
            "productId": P2,
            "trackQuantity": False,
            "variants": [{"variantId": NO_OPTIONS, "inStock": True}],
            "preorderInfo": {"enabled": False},
        },
    ],
    "metadata": {"items": 100, "offset": 0},
    "totalResults": 2,
}


async def test_a_v1_site_is_read_by_product_with_a_string_filter(session: aiohttp.ClientSession) -> None:
    with aioresponses() as m:
        m.get(URL_VERSION, payload={"catalogVersion": "V1_CATALOG"})
        m.post(URL_V1_QUERY, payload=V1_ITEMS)
        got = await reconciler(session).observe(
            variants(f"{P1}:v-red", f"{P1}:v-blue", f"{P2}:{NO_OPTIONS}", f"{P2}:gone", A)
        )
    (call,) = calls(m, "POST", URL_V1_QUERY)
    assert call.kwargs["json"] == {
        "query": {
            "filter": json.dumps({"productId": {"$in": [P1, P2]}}, separators=(",", ":")),
            "paging": {"limit": 100, "offset": 0},
        }
    }
    assert (
        got[0].external_id == A and got[0].problem is not None and "<productId>:<variantId>" in got[0].problem
    )
    tracked, untracked = (
        {"product_id": P1, "track_quantity": True},
        {"product_id": P2, "track_quantity": False},
    )
    assert got[1:] == [
        Observed(f"{P1}:v-red", True, 3, tracked),
        Observed(f"{P1}:v-blue", False, 0, tracked),
        Observed(f"{P2}:{NO_OPTIONS}", True, None, untracked, unlimited=True),
    ]


async def test_a_v1_write_is_one_patch_per_product_keeping_its_tracking(
    session: aiohttp.ClientSession,
) -> None:
    tracked, untracked = (
        {"product_id": P1, "track_quantity": True},
        {"product_id": P2, "track_quantity": False},
    )
    changes = [
        Change(f"{P1}:v-red", Availability(False, 0), platform_ref=tracked),
        Change(f"{P1}:v-blue", Availability(True, None), platform_ref=tracked),
        Change(f"{P2}:{NO_OPTIONS}", Availability(False, None), platform_ref=untracked),
        Change(f"{P2}:v-x", Availability(True, 4), platform_ref=untracked),  # quantity mode, untracked
    ]
    wix = reconciler(session, catalog_version="V1", in_stock_quantity=9)
    assert {wix.capabilities.unit_of(c) for c in changes} == {P1, P2}
    with aioresponses() as m:
        m.patch(BASE + f"/stores/v2/inventoryItems/product/{P1}", payload={})
        m.patch(BASE + f"/stores/v2/inventoryItems/product/{P2}", payload={})
        result = await wix.apply(changes)
    first = calls(m, "PATCH", BASE + f"/stores/v2/inventoryItems/product/{P1}")[0].kwargs["json"]
    second = calls(m, "PATCH", BASE + f"/stores/v2/inventoryItems/product/{P2}")[0].kwargs["json"]
    assert first == {
        "inventoryItem": {
            "trackQuantity": True,
            "variants": [{"variantId": "v-red", "quantity": 0}, {"variantId": "v-blue", "quantity": 9}],
        }
    }
    assert second == {
        "inventoryItem": {"trackQuantity": False, "variants": [{"variantId": NO_OPTIONS, "inStock": False}]}
    }
    assert [(o.external_id, o.available, o.quantity) for o in result.confirmed] == [
        (f"{P1}:v-red", False, 0),
        (f"{P1}:v-blue", True, 9),
        (f"{P2}:{NO_OPTIONS}", False, None),
    ]
    [refused] = result.failed
    assert refused.external_id == f"{P2}:v-x" and "all its variants" in refused.reason and refused.permanent


def test_v1_deliveries_ask_for_a_reread_on_v1_sites_only(session: aiohttp.ClientSession) -> None:
    v1 = "com.wix.ecommerce.inventory.api.v1.InventoryVariantsChanged"
    legacy = {"productId": P1, "variants": [{"id": "v-red", "newValue": {"inStock": False}}]}
    body = delivery(legacy, event_type=v1)
    assert reconciler(session, catalog_version="V1").parse_webhook({}, body).reread
    assert not reconciler(session, catalog_version="V3").parse_webhook({}, body).reread  # V3 events tell
    assert (
        not reconciler(session, catalog_version="V1")
        .parse_webhook({}, delivery(legacy, event_type=v1, app_id=OUR_APP))
        .reread
    )


def test_settings_and_credentials_are_checked(session: aiohttp.ClientSession) -> None:
    with pytest.raises(ConfigError, match="site_id"):
        reconciler(session, site_id=None)
    with pytest.raises(ConfigError, match="catalog_version"):
        reconciler(session, catalog_version="V2")
    with pytest.raises(ConfigError, match="https"):
        reconciler(session, base_url="http://wix.example")
    with pytest.raises(CredentialError, match="api_key"):
        reconciler(session, Secret("wix-site", json.dumps({"public_key": PEM.decode()})))
    with pytest.raises(CredentialError, match="public_key"):
        reconciler(session, Secret("wix-site", json.dumps({"api_key": API_TOKEN, "public_key": "nope"})))
    with pytest.raises(ConfigError, match="instance_id"):
        reconciler(session, Secret("wix-site", json.dumps({"app_secret": APP_SECRET})), instance_id=None)


async def test_a_ready_access_token_is_sent_as_is_without_a_site(session: aiohttp.ClientSession) -> None:
    credential = Secret("wix-site", json.dumps({"access_token": "OAUTH-TOKEN-1"}))
    with aioresponses() as m:
        m.get(URL_VERSION, payload=V3)
        m.post(URL_QUERY, payload=fixture("zero"))
        await reconciler(session, credential, site_id=None).observe(variants(A))
    (call,) = calls(m, "GET", URL_VERSION)
    assert call.kwargs["headers"] == {"Authorization": "OAUTH-TOKEN-1"}  # app tokens name their site


async def test_an_app_secret_creates_one_token_per_reconciler(session: aiohttp.ClientSession) -> None:
    credential = Secret("wix-site", json.dumps({"app_secret": APP_SECRET, "public_key": PEM.decode()}))
    with aioresponses() as m:
        m.post(
            BASE + "/oauth2/token",
            payload={"access_token": "MINTED-1", "token_type": "Bearer", "expires_in": 14400},
        )
        m.get(URL_VERSION, payload=V3)
        m.post(URL_QUERY, payload=fixture("zero"))
        m.post(URL_QUERY, payload=fixture("zero"))
        wix = reconciler(session, credential, site_id=None)
        await wix.observe(variants(A))
        await wix.observe(variants(A))
    (mint,) = calls(m, "POST", BASE + "/oauth2/token")
    assert mint.kwargs["json"] == {
        "grant_type": "client_credentials",
        "client_id": OUR_APP,
        "client_secret": APP_SECRET,
        "instance_id": "inst-1",
    }
    sent = [c.kwargs["headers"] for c in calls(m, "POST", URL_QUERY) + calls(m, "GET", URL_VERSION)]
    assert sent == [{"Authorization": "MINTED-1"}] * 3


async def test_a_refused_app_secret_is_auth_and_never_leaks(session: aiohttp.ClientSession) -> None:
    credential = Secret("wix-site", json.dumps({"app_secret": APP_SECRET}))
    with aioresponses() as m:
        m.post(BASE + "/oauth2/token", status=400, payload={"message": f"bad client_secret {APP_SECRET}"})
        with pytest.raises(AuthError) as caught:
            await reconciler(session, credential, site_id=None).observe(variants(A))
    assert APP_SECRET not in str(caught.value) and "400" in str(caught.value)


def delivery(
    entity: dict[str, Any] | None = None,
    *,
    app_id: str = "215238eb-22a5-4c36-9e7b-e7c08025e04e",
    event_type: str = "wix.stores.catalog.v3.inventory_item_updated_with_reason",
    instance: str = "inst-1",
    exp: float | None = None,
    key: rsa.RSAPrivateKey = KEY,
    alg: str = "RS256",
) -> bytes:
    item = fixture("full")["inventoryItems"][0] if entity is None else entity
    event: dict[str, Any] = {"id": "evt-1", "eventTime": "2026-12-07T10:00:00.000Z"}
    if event_type.startswith("com.wix"):  # legacy V1 payloads are the data itself
        event = {**item, "updatedDate": "2026-12-07T10:00:00.000Z"}
    else:
        event["updatedEvent"] = {"currentEntity": item}
    outer = {
        "eventType": event_type,
        "instanceId": instance,
        "data": json.dumps(event),
        "identity": json.dumps({"identityType": "APP", "appId": app_id}),
    }
    claims: dict[str, Any] = {"data": json.dumps(outer), "iat": int(time.time())}
    claims["exp"] = int(time.time() + 300) if exp is None else exp
    return sign_jwt(key, claims, alg)


def test_webhook_verification(session: aiohttp.ClientSession) -> None:
    wix = reconciler(session)
    good = delivery()
    assert wix.verify_webhook({}, good) is True  # the body is the signature: no header needed
    assert wix.verify_webhook({}, good + b"\n") is False
    head, claims, signature = good.split(b".")
    tampered = base64.urlsafe_b64encode(
        base64.urlsafe_b64decode(claims + b"==").replace(b"inst-1", b"inst-2")
    )
    assert wix.verify_webhook({}, head + b"." + tampered.rstrip(b"=") + b"." + signature) is False
    assert wix.verify_webhook({}, delivery(exp=time.time() - 3600)) is False  # expired
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert wix.verify_webhook({}, delivery(key=other)) is False
    none_alg = base64.urlsafe_b64encode(b'{"alg":"none"}').rstrip(b"=") + b"." + claims + b"." + signature
    assert wix.verify_webhook({}, none_alg) is False
    hs_head = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').rstrip(b"=")
    forged = hmac.new(PEM, hs_head + b"." + claims, hashlib.sha256).digest()  # the public key as secret
    hs256 = hs_head + b"." + claims + b"." + base64.urlsafe_b64encode(forged).rstrip(b"=")
    assert wix.verify_webhook({}, hs256) is False
    assert wix.verify_webhook({}, b"not a jwt") is False
    unkeyed = reconciler(session, Secret("wix-site", json.dumps({"api_key": API_TOKEN})))
    assert unkeyed.verify_webhook({}, good) is False  # no public key configured: nothing verifies


def test_a_merchants_edit_names_the_item_by_its_inventory_item_id(session: aiohttp.ClientSession) -> None:
    [seen] = notified = reconciler(session).parse_webhook({}, delivery())
    assert seen == Observed(ITEM1, True, 12, ref(ITEM1, "7"))
    assert notified.delivery_id == "evt-1"
    assert (
        notified.occurred_at is not None and notified.occurred_at.isoformat() == "2026-12-07T10:00:00+00:00"
    )


@pytest.mark.parametrize(
    "kwargs",
    [
        {"app_id": OUR_APP},  # our own write coming back: an echo, never drift
        {"instance": "another-site"},
        {"event_type": "wix.stores.catalog.v3.inventory_item_deleted"},
        {"entity": {**fixture("full")["inventoryItems"][0], "locationId": "elsewhere"}},
    ],
)
def test_deliveries_that_name_nothing_of_ours(session: aiohttp.ClientSession, kwargs: dict[str, Any]) -> None:
    wix = reconciler(session, location_id="e0e0e0e0-0000-4000-8000-0000000000aa")
    notified = wix.parse_webhook({}, delivery(**kwargs))
    assert list(notified) == [] and notified.delivery_id == "evt-1" and not notified.reread


def test_a_partial_entity_asks_for_a_reread(session: aiohttp.ClientSession) -> None:
    notified = reconciler(session).parse_webhook({}, delivery({"id": ITEM1, "revision": "8"}))
    assert list(notified) == [] and notified.reread


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"[" * 50_000, "body"),
        (b"a.b.c", "body"),
        (sign_jwt(KEY, {"data": "{}"}), "data.eventType"),
        (sign_jwt(KEY, {"data": json.dumps({"eventType": "x", "data": "[1]"})}), "data.data"),
        (delivery({"quantity": 1}), "currentEntity.id"),
    ],
)
def test_bad_deliveries_are_input_errors_naming_the_field(
    session: aiohttp.ClientSession, body: bytes, field: str
) -> None:
    with pytest.raises(InputError) as caught:
        reconciler(session).parse_webhook({}, body)
    assert field in caught.value.field
