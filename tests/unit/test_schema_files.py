"""The three request schemas share definitions (DateTime, Identifier, Order...): each shared name must
mean the same in every file, or the kinds would check the same member differently."""

from __future__ import annotations

import itertools
import json

from mock_masivo.ingest.schemas import load_schema
from mock_masivo.web.openapi import build_openapi

FILES = ["migrate-customers.request.json", "migrate-transactions.request.json", "migrate-events.request.json"]


def test_definitions_shared_by_the_request_schemas_are_identical() -> None:
    definitions = {name: load_schema(name)["$defs"] for name in FILES}
    shared = 0
    for first, second in itertools.combinations(FILES, 2):
        for name in definitions[first].keys() & definitions[second].keys():
            assert definitions[first][name] == definitions[second][name], f"$defs/{name}: {first} vs {second}"
            shared += 1
    assert shared >= 9  # DateTime, FreeForm, Identifier, Text in all three; Order and its parts in two


def test_the_openapi_document_takes_each_request_body_from_its_schema_file() -> None:
    document = build_openapi()
    schemas = document["components"]["schemas"]
    for component, file in (
        ("MigrateCustomersRequest", FILES[0]),
        ("MigrateTransactionsRequest", FILES[1]),
        ("MigrateEventsRequest", FILES[2]),
    ):
        source = load_schema(file)
        assert (
            schemas[component]["properties"]["customers"]["maxItems"] == source["properties"]["customers"]["maxItems"]
        )
        for name, definition in source["$defs"].items():
            hoisted = json.dumps(definition).replace('"#/$defs/', '"#/components/schemas/')
            assert schemas[name] == json.loads(hoisted)
    for path in ("/customers/migrate", "/api/storefront/v1/customers/migrate/transactions"):
        assert document["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"][
            "$ref"
        ].startswith("#/components/schemas/Migrate")
