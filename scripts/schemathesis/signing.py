"""Schemathesis hooks for the txn-notify ingest API (loaded with SCHEMATHESIS_HOOKS).

Every request is signed as a client of the API signs it (schemas/openapi.yaml):
X-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.METHOD.path.body">, over the exact
bytes sent. The body is serialized here and handed to the transport as is, so what was
signed is what goes on the wire.
"""

import base64
import datetime
import decimal
import hashlib
import hmac
import json
import os
import time
from urllib.parse import urlsplit

import requests
import schemathesis
from schemathesis.core import NotSet

SECRET = os.environ.get("TXN_NOTIFY_SIGNING_SECRET", "txn-notify-local-signing-secret").encode()


def _body_bytes(case):
    body = case.body
    if isinstance(body, NotSet):
        return None
    if isinstance(body, bytes):
        return body
    if isinstance(body, str) and not (case.media_type or "").endswith("json"):
        return body.encode()
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def _signature(method, path, body):
    timestamp = str(int(time.time()))
    message = f"{timestamp}.{method}.{path}.".encode() + (body or b"")
    return f"t={timestamp},v1={hmac.new(SECRET, message, hashlib.sha256).hexdigest()}"


def _current_etag(url):
    # A client changes an account against the version it read: a PATCH that carries an
    # If-Match gets the account's own ETag, as one read just before would give it.
    path = urlsplit(url).path
    response = requests.get(url, headers={"X-Signature": _signature("GET", path, b"")}, timeout=5)
    return response.headers.get("ETag") if response.status_code == 200 else None


# The unsubscribe routes take a token instead of a signature. Generated tokens are all
# refused (403), so half of the cases get a genuine one, minted as the notifier mints it
# (src/domain/unsubscribe.rs), for an account made for the purpose: the page and the
# unsubscribe itself are then checked against the spec too.
UNSUBSCRIBE_ACCOUNT = "acc-schemathesis-unsubscribe"
_unsubscribe_account_made = False


def _b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsubscribe_token(account_id, expires_at):
    key = hmac.new(SECRET, b"txn-notify unsubscribe token v1", hashlib.sha256).digest()
    mac = hmac.new(key, f"{account_id}\nstatement\n{expires_at}".encode(), hashlib.sha256).digest()
    return f"{_b64url(account_id.encode())}.statement.{expires_at}.{_b64url(mac)}"


def _make_unsubscribe_account(base_url):
    global _unsubscribe_account_made
    if _unsubscribe_account_made:
        return
    body = json.dumps({
        "account_id": UNSUBSCRIBE_ACCOUNT,
        "holder": {"first_name": "Ada", "last_name": "Lovelace"},
        "email": "ada@example.com", "locale": "en", "country": "GB", "currency": "GBP",
    }).encode()
    requests.post(
        base_url + "/v1/accounts",
        data=body,
        headers={"Content-Type": "application/json", "X-Signature": _signature("POST", "/v1/accounts", body)},
        timeout=5,
    )
    _unsubscribe_account_made = True


@schemathesis.hook
def before_call(context, case, kwargs):
    if case.operation.path == "/v1/unsubscribe/{token}" and case.path_parameters is not None:
        generated = str(case.path_parameters.get("token", ""))
        if int(hashlib.sha256(generated.encode()).hexdigest(), 16) % 2 == 0:
            url = urlsplit(case.as_transport_kwargs()["url"])
            _make_unsubscribe_account(f"{url.scheme}://{url.netloc}")
            case.path_parameters["token"] = _unsubscribe_token(UNSUBSCRIBE_ACCOUNT, int(time.time()) + 86400)
    body = _body_bytes(case)
    if body is not None and "data" not in kwargs and "json" not in kwargs:
        kwargs["data"] = body
    prepared = requests.Request(
        case.method, case.as_transport_kwargs()["url"], params=case.query or None
    ).prepare()
    path = urlsplit(prepared.url).path
    timestamp = str(int(time.time()))
    message = f"{timestamp}.{case.method.upper()}.{path}.".encode() + (body or b"")
    signature = hmac.new(SECRET, message, hashlib.sha256).hexdigest()
    if case.headers is None:
        case.headers = {}
    case.headers["X-Signature"] = f"t={timestamp},v1={signature}"
    if case.method.upper() == "PATCH" and "If-Match" in case.headers:
        etag = _current_etag(prepared.url)
        if etag:
            case.headers["If-Match"] = etag


# Two rules of the API that JSON Schema cannot state, both written in the spec's
# descriptions: a booked_at at most 24 hours after the server's clock, and a top-up whose
# fee leaves something to credit. Requests that break them are refused (400) as the spec
# says, so they are not generated as valid ones; nothing else is filtered.

EARLIEST_BOOKED_AT = datetime.datetime(2000, 1, 1, tzinfo=datetime.timezone.utc)
MAX_AHEAD = datetime.timedelta(hours=24)


def _booked_at_in_window(text):
    try:
        at = datetime.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except (ValueError, AttributeError):
        return True  # not a date-time: not a valid request, nothing to filter
    if at.tzinfo is None:
        return True
    now = datetime.datetime.now(datetime.timezone.utc)
    # A minute of margin each side of the 24 hours for the time the request takes.
    return EARLIEST_BOOKED_AT <= at <= now + MAX_AHEAD - datetime.timedelta(minutes=1)


def _fee_leaves_something(body):
    try:
        gross = int(body["amount_minor"])
        rate = decimal.Decimal(repr(body["fee_rate"]))
    except (KeyError, TypeError, ValueError, decimal.InvalidOperation):
        return True
    fee = (decimal.Decimal(gross) * rate).quantize(decimal.Decimal(1), rounding=decimal.ROUND_HALF_UP)
    return gross - fee > 0


@schemathesis.hook
def filter_case(context, case):
    body = case.body
    if not isinstance(body, dict):
        return True
    if _holds_astral_format(body):
        return False
    path = case.operation.path
    if path == "/v1/transactions" and isinstance(body.get("booked_at"), str):
        return _booked_at_in_window(body["booked_at"])
    if path == "/v1/accounts/{account_id}/top-ups":
        return _fee_leaves_something(body)
    return True


# The Cf characters beyond the Basic Multilingual Plane, which the spec's Name pattern cannot
# spell in a form every regular-expression engine reads (its description lists them; the
# server refuses them, as ingest's tests show): a body that holds one is not generated as valid.
ASTRAL_FORMAT = [(0x110BD, 0x110BD), (0x110CD, 0x110CD), (0x13430, 0x1343F), (0x1BCA0, 0x1BCA3),
                 (0x1D173, 0x1D17A), (0xE0001, 0xE0001), (0xE0020, 0xE007F)]


def _holds_astral_format(value):
    if isinstance(value, str):
        return any(lo <= ord(c) <= hi for c in value if ord(c) > 0xFFFF for lo, hi in ASTRAL_FORMAT)
    if isinstance(value, dict):
        return any(_holds_astral_format(v) for k, v in value.items() if k != "metadata")
    if isinstance(value, list):
        return any(_holds_astral_format(v) for v in value)
    return False


@schemathesis.hook
def after_call(context, case, response):
    # The test reads the statuses back: a run whose requests were all refused (a broken
    # signature, say) would otherwise pass every check.
    path = os.environ.get("TXN_NOTIFY_SCHEMATHESIS_STATUSES")
    if path:
        with open(path, "a", encoding="ascii") as out:
            out.write(f"{response.status_code}\n")
