"""The OpenAPI 3.1 document of both APIs, built from the files in schemas/.

Every status a route can answer on its own is listed (tests/property/test_schemathesis.py checks
this). Not listed: 404/405 for paths and methods that are not served, and the answers a fault rule
(POST /_mock/faults) makes a Masivo-compatible route give, which can be any status by design.
"""

from __future__ import annotations

import json
from typing import Any

from .. import __version__
from ..config import MASIVO_BASE_PATH
from ..ingest.schemas import load_schema

ERROR = {"$ref": "#/components/schemas/Error"}
STORED_EVENT = {"$ref": "#/components/schemas/StoredEvent"}
BEARER: list[dict[str, list[str]]] = [{"bearer": []}]
STRING: dict[str, Any] = {"type": "string"}
NULLABLE_STRING: dict[str, Any] = {"type": ["string", "null"]}
INTEGER: dict[str, Any] = {"type": "integer"}
NUMBER: dict[str, Any] = {"type": "number"}
TIME: dict[str, Any] = {"type": "string", "format": "date-time"}
MAX_OFFSET = 999_999_999  # the server reads at most 9 digits (routes/inspect.py); more is a 422
STORAGE_FAILURES = (503, 507)  # only with a data dir: the journal refused the write
BODY_FAILURES = (400, 408, 413, 415)  # a JSON request body that cannot be read or parsed
TITLES = {
    400: "Invalid JSON",
    401: "Missing or invalid credentials",
    404: "Not found",
    408: "The body did not arrive in time",
    413: "Body too large",
    415: "Body is not JSON",
    422: "Invalid body or parameter",
    429: "Over Masivo's rate limits (--rate-limit dev|prod)",
    503: "Storage unavailable",
    507: "Insufficient storage",
}
RATE_LIMIT_HEADERS = {
    name: {"schema": {"type": "string", "pattern": "^[0-9]+$"}}
    for name in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")
}
PAGING = [
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 0, "maximum": 1000, "default": 100}},
    {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET, "default": 0}},
    {"name": "account", "in": "query", "schema": STRING},
]


def _hoist(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    """Move `$defs` into components and point `#/$defs/X` references there (inside the definitions too)."""
    for key in ("$schema", "$id"):
        schema.pop(key, None)
    text = json.dumps(schema).replace('"#/$defs/', '"#/components/schemas/')
    hoisted: dict[str, Any] = json.loads(text)
    for name, definition in hoisted.pop("$defs", {}).items():
        # the request schemas share definitions (DateTime, Identifier, Order...): one name, one meaning
        assert components.get(name, definition) == definition, f"$defs/{name} differs between schema files"
        components[name] = definition
    return hoisted


def _errors(*statuses: int) -> dict[str, Any]:
    responses: dict[str, Any] = {str(status): _json(ERROR, TITLES[status]) for status in statuses}
    if "401" in responses:
        responses["401"]["headers"] = {"WWW-Authenticate": {"required": True, "schema": STRING}}
    if "429" in responses:
        responses["429"]["headers"] = {
            "Retry-After": {"required": True, "schema": {"type": "string", "pattern": "^[1-9][0-9]*$"}},
            **{name: {**header, "required": True} for name, header in RATE_LIMIT_HEADERS.items()},
        }
    return responses


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _object(**members: dict[str, Any]) -> dict[str, Any]:
    """An object with these members, all required; members added later do not break clients (not closed)."""
    return {"type": "object", "required": list(members), "properties": members}


def _listing(item: dict[str, Any]) -> dict[str, Any]:
    return _object(data={"type": "array", "items": item}, total=INTEGER)


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


CUSTOMER_ID = {"name": "customer_id", "in": "path", "required": True, "schema": STRING}
MIGRATIONS = (
    (
        "/customers/migrate",
        "Migrate customer profiles and point balances",
        "MigrateCustomersRequest",
        "at most 1000 customers (422, rule maxItems), ids and emails (ignoring case) unique within the batch "
        "(unique_id, unique_email)",
    ),
    (
        "/customers/migrate/transactions",
        "Migrate customers' transaction history",
        "MigrateTransactionsRequest",
        "at most 1000 transactions in all (max_transactions_per_batch), customer ids unique within the batch",
    ),
    (
        "/customers/migrate/events",
        "Migrate customers' historical events",
        "MigrateEventsRequest",
        "at most 1000 events in all (max_events_per_batch)",
    ),
)


def _migrate(path: str, summary: str, schema: str, rules: str) -> dict[str, Any]:
    return {
        "post": {
            "summary": summary,
            "description": f"Besides the schema, a batch holds {rules}, and integers must fit in 64 bits (400) so "
            "they are stored exactly. Records are stored QUEUED and processed on the account's clock. "
            "With --rate-limit dev|prod every answer after auth carries the X-RateLimit-* headers.",
            "security": BEARER,
            "requestBody": _body(_ref(schema)),
            "responses": {
                "201": {
                    "description": "Records enqueued successfully",
                    "headers": {"X-Mock-Batch-Id": {"required": True, "schema": STRING}, **RATE_LIMIT_HEADERS},
                    "content": {"application/json": {"schema": {"type": "object", "maxProperties": 0}}},
                },
                **_errors(*BODY_FAILURES, 401, 422, 429, *STORAGE_FAILURES),
            },
        }
    }


def _masivo_paths() -> dict[str, Any]:
    authorize = {
        "get": {
            "summary": "Exchange an API key for a JWT (HS256; claims sub, iat, exp)",
            "security": [{"apiKey": []}],
            "responses": {"200": _json(_object(data=STRING), "The token"), **_errors(401)},
        }
    }
    migrations = {kind: _migrate(kind, summary, schema, rules) for kind, summary, schema, rules in MIGRATIONS}
    customer = {
        "get": {
            "summary": (
                "A migrated customer of the token's account: its processed profile and wallet (Masivo's read-back)"
            ),
            "security": BEARER,
            "parameters": [CUSTOMER_ID],
            "responses": {
                "200": _json(
                    _object(data=_object(customer=_ref("MasivoCustomer"), wallet=_ref("Wallet"))), "The customer"
                ),
                **_errors(401, 404),
            },
        }
    }
    transactions = {
        "get": {
            "summary": "A customer's processed transactions, newest first; without `year`, the last 92 days",
            "security": BEARER,
            "parameters": [
                CUSTOMER_ID,
                {"name": "year", "in": "query", "schema": {"type": "integer", "minimum": 2020, "maximum": 9998}},
                *({"name": name, "in": "query", "schema": STRING} for name in ("brand_id", "reward_id")),
                {"name": "type", "in": "query", "schema": STRING},
            ],
            "responses": {
                "200": _json(_object(data={"type": "array", "items": {"type": "object"}}), "Transactions"),
                **_errors(401, 404, 422),
            },
        }
    }
    paths: dict[str, Any] = {}
    for prefix in ("", MASIVO_BASE_PATH):
        paths[f"{prefix}/auth/authorize"] = authorize
        for kind, migrate in migrations.items():
            paths[f"{prefix}{kind}"] = migrate
        paths[f"{prefix}/customers/{{customer_id}}"] = customer
        paths[f"{prefix}/customers/{{customer_id}}/transactions"] = transactions
    return paths


def _fault_rule() -> dict[str, Any]:
    """The body of POST /_mock/faults, as faults.parse_rule checks it."""
    name = STRING | {"minLength": 1}
    return {
        "type": "object",
        "additionalProperties": False,
        # a rule must do something: answer a status, wait, or drop the connection
        "anyOf": [
            {"required": ["status"]},
            {"required": ["delay_ms"], "properties": {"delay_ms": {"exclusiveMinimum": 0}}},
            {"required": ["drop"], "properties": {"drop": {"enum": [True, "before", "after"]}}},
        ],
        "properties": {
            "path": name | {"not": {"pattern": "^/_mock|^/openapi\\.json$"}},
            "method": name,
            "account": name,
            "status": {"type": "integer", "minimum": 200, "maximum": 599, "not": {"enum": [204, 304]}},
            "body": {},
            "headers": {
                "type": "object",
                "propertyNames": {"pattern": "^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}$"},
                "additionalProperties": {"type": "string", "pattern": "^[ -~]*$", "maxLength": 4096},
            },
            "delay_ms": {"type": "number", "minimum": 0, "maximum": 600_000},
            "drop": {"enum": [True, False, "before", "after"]},
            "times": {"type": "integer", "minimum": 1},
            "probability": {"type": "number", "minimum": 0, "maximum": 1},
            "seed": INTEGER,
        },
    }


def _inspection_schemas() -> dict[str, Any]:
    period = _object(number_of_purchases=INTEGER, spend_total=NUMBER, last_visit=NULLABLE_STRING)
    nullable_integer = {"type": ["integer", "null"]}
    status = {"enum": ["QUEUED", "PROCESSED", "FAILED"]}
    failure = {"oneOf": [{"type": "null"}, _object(reason=STRING, details=STRING)]}
    kinds = {"enum": ["profile", "transaction", "event"]}
    per_kind = _object(profile=INTEGER, transaction=INTEGER, event=INTEGER)

    def stored(member: str) -> dict[str, Any]:
        return _object(
            id=STRING,
            account=STRING,
            batch_id=STRING,
            customer_id=STRING,
            received_at=TIME,
            status=status,
            failure=failure,
            **{member: {"type": "object"}},
        )

    return {
        # metrics: from processed purchases, else the migrated ones as sent (any periods), else zeros
        "MasivoCustomer": _object(id=STRING, metrics={"type": "object", "properties": {"lifetime": period}}),
        "Wallet": _object(id=STRING, owner_id=STRING, lines={"type": "array"}, totals={"type": "array"}),
        "Health": _object(status={"const": "ok"}, version=STRING, events=INTEGER),
        "CustomerSummary": _object(
            id=STRING,
            events=INTEGER,
            metrics=_object(lifetime=period),
            profile={"type": "boolean"},
            transactions=INTEGER,
        ),
        "CustomerDetail": _object(
            id=STRING,
            events={"type": "array", "items": STORED_EVENT},
            events_total={"type": "integer", "minimum": 0},
            metrics=_object(lifetime=period),
            profile={"oneOf": [{"type": "null"}, _ref("StoredProfile")]},
            wallet={"oneOf": [{"type": "null"}, _ref("Wallet")]},
            transactions={"type": "array", "items": _ref("StoredTransaction")},
        ),
        "StoredProfile": stored("customer"),
        "StoredTransaction": stored("transaction"),
        "Batch": _object(id=STRING, kind=kinds, account=STRING, received_at=TIME, customers=INTEGER, records=INTEGER),
        "RequestEntry": _object(
            id=STRING,
            at=TIME,
            method=STRING,
            path=STRING,
            status=nullable_integer,
            account=NULLABLE_STRING,
            batch_id=NULLABLE_STRING,
            errors={"type": "array"},
            warnings={"type": "array"},
            duration_ms=NUMBER,
        ),
        "RequestDetail": {
            "allOf": [
                _ref("RequestEntry"),
                _object(
                    headers={
                        "type": "array",
                        "items": {"type": "array", "items": STRING, "minItems": 2, "maxItems": 2},
                    },
                    body=NULLABLE_STRING,
                    body_truncated={"type": "boolean"},
                ),
            ]
        },
        "Report": _object(
            requests=_object(total=INTEGER, by_status={"type": "object", "additionalProperties": INTEGER}),
            accepted=_object(profile=INTEGER, transaction=INTEGER, event=INTEGER, batches=INTEGER),
            processed=per_kind,
            failed=per_kind,
            queued=per_kind,
            violations={
                "type": "array",
                "items": _object(
                    endpoint=STRING,
                    rule=STRING,
                    path=STRING,
                    message=STRING,
                    count=INTEGER,
                    requests=INTEGER,
                    examples={"type": "array", "items": STRING},
                ),
            },
            failures={
                "type": "array",
                "items": _object(kind=kinds, reason=STRING, count=INTEGER, examples={"type": "array", "items": STRING}),
            },
            duplicates=_object(event=INTEGER),
            customers=_object(with_profile=INTEGER, events_without_profile=INTEGER, with_transactions=INTEGER),
            timeline={"type": "array", "items": _object(minute=TIME, accepted=INTEGER, refused=INTEGER)},
        ),
        "Account": _object(id=STRING, api_key=STRING, token=STRING),
        "AccountId": _object(id=STRING),
        "ResetCounts": _object(
            batches=INTEGER, profiles=INTEGER, transactions=INTEGER, events=INTEGER, requests=INTEGER
        ),
        "Clock": _object(now=TIME, offset=NUMBER),
        "FaultRuleRequest": _fault_rule(),
        "FaultRule": _object(
            id=STRING,
            path=NULLABLE_STRING,
            method=NULLABLE_STRING,
            account=NULLABLE_STRING,
            status=nullable_integer,
            body={},
            delay_ms=NUMBER,
            drop={"enum": [None, "before", "after"]},
            times=nullable_integer,
            probability=NUMBER,
            seed=nullable_integer,
            fired=INTEGER,
            headers={"type": ["object", "null"]},
        ),
        "Removed": _object(removed=INTEGER),
    }


def _inspection_paths() -> dict[str, Any]:
    path_id = {
        name: {"name": name, "in": "path", "required": True, "schema": STRING}
        for name in ("event_id", "customer_id", "fault_id", "record_id", "request_id", "name")
    }
    advance = {
        "oneOf": [
            {
                "type": "object",
                "additionalProperties": False,
                "required": ["advance"],
                "properties": {"advance": {"type": "number", "minimum": 0, "exclusiveMaximum": 10**10}},
            },
            {"type": "object", "additionalProperties": False, "required": ["to"], "properties": {"to": TIME}},
        ]
    }
    status = {"name": "status", "in": "query", "schema": {"enum": ["QUEUED", "PROCESSED", "FAILED"]}}
    html = {"description": "The web page", "content": {"text/html": {"schema": STRING}}}
    return {
        "/_mock/health": {
            "get": {"summary": "Liveness and event count", "responses": {"200": _json(_ref("Health"), "ok")}}
        },
        "/_mock/events": {
            "get": {
                "summary": "Stored events in receipt order",
                "parameters": [
                    *PAGING,
                    *(
                        {"name": name, "in": "query", "schema": STRING}
                        for name in ("customer_id", "type", "batch_id", "purchase_id")
                    ),
                    status,
                    {"name": "duplicates", "in": "query", "schema": {"type": "boolean"}},
                ],
                "responses": {"200": _json(_listing(STORED_EVENT), "A page of events"), **_errors(422)},
            }
        },
        "/_mock/events/{event_id}": {
            "get": {
                "parameters": [path_id["event_id"]],
                "responses": {"200": _json(_object(data=STORED_EVENT), "The event"), **_errors(404)},
            }
        },
        **_records_paths("profiles", "StoredProfile", ("email",), path_id["record_id"], status),
        **_records_paths("transactions", "StoredTransaction", ("type", "reward_id"), path_id["record_id"], status),
        "/_mock/customers": {
            "get": {
                "parameters": PAGING,
                "responses": {"200": _json(_listing(_ref("CustomerSummary")), "Customers"), **_errors(422)},
            }
        },
        "/_mock/customers/{customer_id}": {
            "get": {
                "summary": "Everything received for a customer; its events a page at a time (limit, offset)",
                "parameters": [
                    path_id["customer_id"],
                    PAGING[2],
                    {
                        "name": "limit",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 0, "maximum": 1000, "default": 1000},
                    },
                    PAGING[1],
                ],
                "responses": {
                    "200": _json(_object(data=_ref("CustomerDetail")), "The customer, its events and metrics"),
                    **_errors(404),
                },
            }
        },
        "/_mock/batches": {
            "get": {
                "parameters": [
                    *PAGING,
                    {"name": "kind", "in": "query", "schema": {"enum": ["profile", "transaction", "event"]}},
                ],
                "responses": {"200": _json(_listing(_ref("Batch")), "Accepted batches"), **_errors(422)},
            }
        },
        "/_mock/requests": {
            "get": {
                "parameters": [
                    *PAGING,
                    {"name": "status", "in": "query", "schema": {"type": "integer", "minimum": 100, "maximum": 999}},
                ],
                "responses": {"200": _json(_listing(_ref("RequestEntry")), "The request log"), **_errors(422)},
            }
        },
        "/_mock/requests/{request_id}": {
            "get": {
                "summary": "One request log entry with its headers (credentials masked) and a refused body",
                "parameters": [path_id["request_id"]],
                "responses": {"200": _json(_object(data=_ref("RequestDetail")), "The entry"), **_errors(404)},
            }
        },
        "/_mock/report": {
            "get": {
                "summary": "The dry-run report",
                "parameters": [PAGING[2]],
                "responses": {"200": _json(_object(data=_ref("Report")), "The report"), **_errors(404)},
            }
        },
        "/_mock/accounts": {
            "get": {
                "summary": "Every account's id",
                "parameters": PAGING[:2],
                "responses": {"200": _json(_listing(_ref("AccountId")), "Accounts"), **_errors(422)},
            },
            "post": {
                "responses": {
                    "201": _json(_object(data=_ref("Account")), "A new account"),
                    **_errors(*STORAGE_FAILURES),
                }
            },
        },
        "/_mock/ui": {"get": {"summary": "The web page", "responses": {"200": html}}},
        "/_mock/ui/{name}": {
            "get": {
                "summary": "The web page's script and style sheet",
                "parameters": [path_id["name"]],
                "responses": {
                    "200": {
                        "description": "The file",
                        "content": {
                            "text/javascript": {"schema": STRING},
                            "text/css": {"schema": STRING},
                            "text/html": {"schema": STRING},
                        },
                    },
                    **_errors(404),
                },
            }
        },
        "/_mock/reset": {
            "post": {
                "parameters": [PAGING[2]],
                "responses": {"200": _json(_ref("ResetCounts"), "Counts removed"), **_errors(404, *STORAGE_FAILURES)},
            }
        },
        "/_mock/clock": {
            "get": {
                "summary": "The server clock, or with ?account= one account's",
                "parameters": [PAGING[2]],
                "responses": {"200": _json(_ref("Clock"), "The clock"), **_errors(404)},
            },
            "post": {
                "summary": "Move a clock forward (422 if it would come within a year of 9999)",
                "parameters": [PAGING[2]],
                "requestBody": _body(advance),
                "responses": {
                    "200": _json(_ref("Clock"), "The clock"),
                    **_errors(*BODY_FAILURES, 404, 422, *STORAGE_FAILURES),
                },
            },
        },
        "/_mock/faults": {
            "get": {
                "summary": "The active fault rules",
                "responses": {"200": _json(_listing(_ref("FaultRule")), "Fault rules")},
            },
            "post": {
                "summary": "Add a fault rule for the Masivo-compatible routes",
                "requestBody": _body(_ref("FaultRuleRequest")),
                "responses": {
                    "201": _json(_object(data=_ref("FaultRule")), "The rule"),
                    **_errors(*BODY_FAILURES, 422),
                },
            },
            "delete": {
                "summary": "Remove every fault rule",
                "responses": {"200": _json(_ref("Removed"), "How many were removed")},
            },
        },
        "/_mock/faults/{fault_id}": {
            "delete": {
                "parameters": [path_id["fault_id"]],
                "responses": {"200": _json(_ref("Removed"), "Removed"), **_errors(404)},
            }
        },
        "/openapi.json": {
            "get": {"summary": "This document", "responses": {"200": _json({"type": "object"}, "OpenAPI 3.1")}}
        },
    }


def _records_paths(
    plural: str, item: str, members: tuple[str, ...], record_id: dict[str, Any], status: dict[str, Any]
) -> dict[str, Any]:
    filters = [{"name": name, "in": "query", "schema": STRING} for name in ("customer_id", "batch_id", *members)]
    return {
        f"/_mock/{plural}": {
            "get": {
                "summary": f"Stored {plural} in receipt order",
                "parameters": [*PAGING, *filters, status],
                "responses": {"200": _json(_listing(_ref(item)), f"A page of {plural}"), **_errors(422)},
            }
        },
        f"/_mock/{plural}/{{record_id}}": {
            "get": {
                "parameters": [record_id],
                "responses": {"200": _json(_object(data=_ref(item)), "The record"), **_errors(404)},
            }
        },
    }


def _refusing_unknown_parameters(paths: dict[str, Any]) -> dict[str, Any]:
    """Every /_mock call answers 422 to a query parameter it does not take (routes/params.py)."""
    for path, operations in paths.items():
        if path.startswith("/_mock/") and not path.startswith("/_mock/ui"):
            for operation in operations.values():
                operation["responses"].setdefault("422", _errors(422)["422"])
    return paths


def build_openapi() -> dict[str, Any]:
    components: dict[str, Any] = {}
    for name, file in (
        ("MigrateEventsRequest", "migrate-events.request.json"),
        ("MigrateCustomersRequest", "migrate-customers.request.json"),
        ("MigrateTransactionsRequest", "migrate-transactions.request.json"),
        ("Error", "error.json"),
        ("StoredEvent", "stored-event.json"),
    ):
        components[name] = _hoist(load_schema(file), components)
    inspection = _inspection_schemas()
    clashes = set(inspection) & set(components)
    assert not clashes, f"component names used twice: {sorted(clashes)}"  # one would silently replace the other
    components.update(inspection)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "mock-masivo",
            "version": __version__,
            "description": "Masivo's migration API (customers, transactions, events) and read-back "
            "as mock-masivo serves them, and its /_mock inspection API.",
        },
        "paths": {**_masivo_paths(), **_refusing_unknown_parameters(_inspection_paths())},
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"},
            },
        },
    }
