#!/usr/bin/env python3
"""Writes schemas/<detail-type>.schema.json, one JSON Schema (Draft 4) per detail-type.

Each schema describes the event's `detail` and stands alone (its own `definitions`), the
form the EventBridge schema registry imports. Shared parts are written once, here.
`--check` exits 1 if a committed schema differs from what this script writes.
"""
import json
import pathlib
import sys

SCHEMAS = pathlib.Path(__file__).resolve().parent.parent / "schemas"

KINDS = ["card_purchase", "atm_withdrawal", "transfer_in", "transfer_out", "top_up", "refund", "fee"]
STATUSES = ["approved", "declined", "reversed"]
DECLINE_REASONS = ["insufficient_funds", "limit_exceeded", "suspected_fraud", "card_blocked", "other"]
CHANNELS = ["pos", "ecommerce", "atm", "transfer", "top_up"]
CATEGORIES = ["groceries", "restaurants", "transport", "travel", "fuel", "cash", "gambling", "transfers",
              "utilities", "health", "entertainment", "shopping", "income", "fees", "other"]
ALERT_TYPES = ["Large Transaction", "Low Balance", "Spending Limit Reached", "Foreign Transaction",
               "Cash Withdrawal", "High Risk Merchant", "Top-up Completed", "Refund Received"]
RFC3339 = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$"
UUID = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"

DEFINITIONS = {
    "timestamp": {"type": "string", "format": "date-time", "pattern": RFC3339},
    "date": {"type": "string", "pattern": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"},
    "event_id": {"type": "string", "pattern": UUID, "description": "Deterministic: the idempotency key downstream."},
    "currency": {"type": "string", "pattern": "^[A-Z]{3}$", "description": "ISO 4217"},
    "country": {"type": "string", "pattern": "^[A-Z]{2}$", "description": "ISO 3166-1 alpha-2"},
    "severity": {"type": "string", "enum": ["info", "warning", "critical"]},
    "category": {"type": "string", "enum": CATEGORIES},
    "money": {
        "type": "object",
        "description": "An amount in minor units of its currency (JPY 0 decimals, EUR 2, KWD 3).",
        "additionalProperties": False,
        "required": ["amount_minor", "currency"],
        "properties": {
            "amount_minor": {"type": "integer"},
            "currency": {"$ref": "#/definitions/currency"},
        },
    },
    "transaction": {
        "type": "object",
        "description": "The ledger's transaction item (docs/data-contract.md), keys left out.",
        "additionalProperties": False,
        "required": ["transaction_id", "account_id", "kind", "status", "amount_minor", "currency", "channel", "booked_at"],
        "properties": {
            "transaction_id": {"type": "string", "minLength": 1},
            "account_id": {"type": "string", "minLength": 1},
            "kind": {"type": "string", "enum": KINDS},
            "status": {"type": "string", "enum": STATUSES},
            "decline_reason": {"type": "string", "enum": DECLINE_REASONS},
            "amount_minor": {"type": "integer", "minimum": 1},
            "currency": {"$ref": "#/definitions/currency"},
            "balance_after_minor": {"type": "integer"},
            "channel": {"type": "string", "enum": CHANNELS},
            "merchant": {
                "type": "object",
                "additionalProperties": False,
                "required": ["name", "mcc", "country"],
                "properties": {
                    "name": {"type": "string", "minLength": 1},
                    "mcc": {"type": "string", "pattern": "^[0-9]{4}$"},
                    "country": {"$ref": "#/definitions/country"},
                    "city": {"type": "string"},
                },
            },
            "card_last4": {"type": "string", "pattern": "^[0-9]{4}$"},
            "booked_at": {"$ref": "#/definitions/timestamp"},
            "metadata": {"description": "Free form, carried through untouched."},
        },
    },
    "rule": {
        "type": "object",
        "description": "The rule that fired, and the threshold it compared against where it has one.",
        "additionalProperties": False,
        "required": ["id"],
        "properties": {
            "id": {"type": "string", "enum": ["large_transaction", "low_balance", "spending_limit", "foreign_transaction",
                                              "cash_withdrawal", "high_risk_merchant", "top_up", "refund"]},
            "threshold": {"$ref": "#/definitions/money"},
            "threshold_source": {"type": "string", "enum": ["account", "category", "currency"]},
        },
    },
}

HEADER = {
    "schema_version": {"type": "integer", "enum": [1]},
    "event_id": {"$ref": "#/definitions/event_id"},
    "account_id": {"type": "string", "minLength": 1},
    "occurred_at": {"$ref": "#/definitions/timestamp"},
}
ALERT = {
    **HEADER,
    "transaction": {"$ref": "#/definitions/transaction"},
    "category": {"$ref": "#/definitions/category"},
    "rule": {"$ref": "#/definitions/rule"},
    "severity": {"$ref": "#/definitions/severity"},
}


# What an account event carries of the account: no name, no email.
ACCOUNT_SNAPSHOT = {
    "type": "object",
    "additionalProperties": False,
    "required": ["account_id", "locale", "country", "currency", "status", "created_at"],
    "properties": {
        "account_id": {"type": "string", "minLength": 1},
        "locale": {"type": "string", "enum": ["fr", "en"]},
        "country": {"$ref": "#/definitions/country"},
        "currency": {"$ref": "#/definitions/currency"},
        "status": {"type": "string", "enum": ["active", "frozen", "closed"]},
        "created_at": {"$ref": "#/definitions/timestamp"},
    },
}


def nullable(type_name):
    return {"type": [type_name, "null"]}


DETAILS = {
    "Transaction Recorded": ("Every valid transaction, with its category and the alerts that fired for it.", {
        **HEADER,
        "change": {"type": "string", "enum": ["inserted", "reversed"]},
        "transaction": {"$ref": "#/definitions/transaction"},
        "category": {"$ref": "#/definitions/category"},
        "severity": {"$ref": "#/definitions/severity"},
        "findings": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["detail_type", "event_id", "rule", "severity"],
                "properties": {
                    "detail_type": {"type": "string", "enum": ALERT_TYPES},
                    "event_id": {"$ref": "#/definitions/event_id"},
                    "rule": {"$ref": "#/definitions/rule"},
                    "severity": {"$ref": "#/definitions/severity"},
                },
            },
        },
    }),
    "Large Transaction": ("An approved outgoing payment at or above the applicable threshold.", ALERT),
    "Low Balance": ("The balance after a transaction is below the account's threshold.", {
        **ALERT, "balance_after": {"$ref": "#/definitions/money"}}),
    "Spending Limit Reached": ("Declined for insufficient funds or a limit.", {
        **ALERT, "decline_reason": {"type": "string", "enum": DECLINE_REASONS}}),
    "Foreign Transaction": ("The merchant country or the currency differs from the account's.", {
        **ALERT,
        "account_country": {"$ref": "#/definitions/country"},
        "account_currency": {"$ref": "#/definitions/currency"},
        "reasons": {"type": "array", "minItems": 1, "uniqueItems": True,
                    "items": {"type": "string", "enum": ["country", "currency"]}},
    }),
    "Cash Withdrawal": ("An approved ATM withdrawal at or above the threshold.", ALERT),
    "High Risk Merchant": ("A card purchase in gambling, crypto or money transfer.", {
        **ALERT, "mcc": {"type": "string", "pattern": "^[0-9]{4}$"}}),
    "Top-up Completed": ("An approved top-up.", ALERT),
    "Refund Received": ("An approved refund.", ALERT),
    "Account Opened": ("A new account item. Carries no name or email: consumers load the profile.", {
        **HEADER,
        "account": ACCOUNT_SNAPSHOT,
        "severity": {"$ref": "#/definitions/severity"},
    }),
    "Account Updated": ("A change of an account item. Names the top-level fields that changed, never their values: consumers load the profile.", {
        **HEADER,
        "changed": {
            "type": "array",
            "minItems": 1,
            "uniqueItems": True,
            "items": {"type": "string", "minLength": 1},
        },
        "version": {"type": "integer", "minimum": 1},
        "account": ACCOUNT_SNAPSHOT,
        "severity": {"$ref": "#/definitions/severity"},
    }),
    "Weekly Statement": ("The digest of one account for one week (Monday to Monday, account time zone).", {
        **HEADER,
        "week": {
            "type": "object",
            "additionalProperties": False,
            "required": ["start", "end", "time_zone"],
            "properties": {
                "start": {"$ref": "#/definitions/date"},
                "end": {"$ref": "#/definitions/date"},
                "time_zone": {"type": "string", "minLength": 1},
            },
        },
        "totals_by_category": {
            "description": "Net flow per category and currency over the week's approved transactions: money in positive, money out negative.",
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["category", "total"],
                "properties": {"category": {"$ref": "#/definitions/category"}, "total": {"$ref": "#/definitions/money"}},
            },
        },
        "money_in": {"description": "Approved incoming transactions (transfer_in, top_up, refund), one sum per currency.", "type": "array", "items": {"$ref": "#/definitions/money"}},
        "money_out": {"description": "Approved outgoing transactions, one sum per currency (positive).", "type": "array", "items": {"$ref": "#/definitions/money"}},
        "transaction_count": {"type": "integer", "minimum": 0},
        "transactions": {
            "type": "array",
            "maxItems": 200,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["transaction_id", "booked_at", "kind", "status", "amount", "category"],
                "properties": {
                    "transaction_id": {"type": "string", "minLength": 1},
                    "booked_at": {"$ref": "#/definitions/timestamp"},
                    "kind": {"type": "string", "enum": KINDS},
                    "status": {"type": "string", "enum": STATUSES},
                    "amount": {"$ref": "#/definitions/money"},
                    "category": {"$ref": "#/definitions/category"},
                    "merchant_name": {"type": "string"},
                },
            },
        },
        "truncated": {"type": "boolean"},
        "severity": {"$ref": "#/definitions/severity"},
    }),
    "Notification Undeliverable": ("An email that was due could not reach the customer: suppressed because the address is undeliverable, rejected by SES, bounced or complained about. For ops and other channels; never emailed.", {
        **HEADER,
        "original_event_id": {"$ref": "#/definitions/event_id"},
        "original_detail_type": {"type": "string", "enum": ["Transaction Recorded", "Account Opened", "Account Updated", "Weekly Statement"]},
        "transaction_id": {"type": ["string", "null"], "minLength": 1},
        "reason": {"type": "string", "enum": ["address_undeliverable", "bounced", "complained", "rejected"]},
        "template": {"type": ["string", "null"], "pattern": "^[a-z_]+$", "description": "The email's template family; null when nothing was sent."},
        "message_id": {"type": ["string", "null"], "minLength": 1, "description": "SES's message id; null when nothing was sent."},
        "severity": {"$ref": "#/definitions/severity"},
        "findings": {
            "description": "The alerts of warning or above the email carried, when the notifier knows them (SES feedback names only the original event).",
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["detail_type", "event_id", "severity"],
                "properties": {
                    "detail_type": {"type": "string", "enum": ALERT_TYPES},
                    "event_id": {"$ref": "#/definitions/event_id"},
                    "severity": {"$ref": "#/definitions/severity"},
                },
            },
        },
    }),
    "Record Rejected": ("A stream record that can never be processed. For ops; never emailed.", {
        "schema_version": {"type": "integer", "enum": [1]},
        "event_id": {"$ref": "#/definitions/event_id"},
        "account_id": {"type": ["string", "null"], "description": "From the record's keys, when readable."},
        "occurred_at": {"$ref": "#/definitions/timestamp"},
        "severity": {"$ref": "#/definitions/severity"},
        "reason_code": {"type": "string", "pattern": "^[a-z0-9_]+$"},
        "reason": {"type": "string", "minLength": 1},
        "sequence_number": nullable("string"),
        "stream_event_id": nullable("string"),
        "event_name": nullable("string"),
        "event_source_arn": nullable("string"),
        "raw_record": {"description": "The record as received, card numbers masked; null when too large."},
        "raw_record_truncated": {"type": "boolean"},
    }),
}

# Optional properties: everything else is required.
OPTIONAL = {"metadata", "mcc"}


def used_definitions(node, found):
    if isinstance(node, dict):
        ref = node.get("$ref", "")
        if ref.startswith("#/definitions/"):
            name = ref.split("/")[-1]
            if name not in found:
                found.add(name)
                used_definitions(DEFINITIONS[name], found)
        for value in node.values():
            used_definitions(value, found)
    elif isinstance(node, list):
        for value in node:
            used_definitions(value, found)
    return found


def schema(detail_type, description, properties):
    slug = detail_type.lower().replace(" ", "-")
    names = sorted(used_definitions(properties, set()))
    return slug, {
        "$schema": "http://json-schema.org/draft-04/schema#",
        "id": f"https://txn-notify.dev/schemas/{slug}.schema.json",
        "title": detail_type,
        "description": f"The detail of a \"{detail_type}\" event (source txn-notify). {description}",
        "x-amazon-events-source": "txn-notify",
        "x-amazon-events-detail-type": detail_type,
        "type": "object",
        "additionalProperties": False,
        "required": [name for name in properties if name not in OPTIONAL],
        "properties": properties,
        "definitions": {name: DEFINITIONS[name] for name in names},
    }


def main():
    check = "--check" in sys.argv[1:]
    stale = []
    for detail_type, (description, properties) in DETAILS.items():
        slug, document = schema(detail_type, description, properties)
        path = SCHEMAS / f"{slug}.schema.json"
        text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
        if check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(path.name)
        else:
            path.write_text(text, encoding="utf-8")
    if stale:
        print("schemas out of date (run scripts/build-schemas.py):", ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
