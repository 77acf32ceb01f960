"""The DynamoDB single table's key schema, shared by the adapter, the test
bootstrap and the Pulumi program so the three cannot drift apart.

Item layout and the access pattern each index serves: docs/dynamodb.md.
"""

from __future__ import annotations

from typing import Any

PARTITION_KEY = "PK"
SORT_KEY = "SK"
TTL_ATTRIBUTE = "expires_at_epoch"

# Two overloaded global secondary indexes; each projects the whole item.
GSIS: tuple[tuple[str, str, str], ...] = (
    ("GSI1", "GSI1PK", "GSI1SK"),
    ("GSI2", "GSI2PK", "GSI2SK"),
)


def attribute_definitions() -> list[dict[str, str]]:
    names = [PARTITION_KEY, SORT_KEY] + [n for _, pk, sk in GSIS for n in (pk, sk)]
    return [{"AttributeName": n, "AttributeType": "S"} for n in names]


def create_table_kwargs(table_name: str) -> dict[str, Any]:
    """Arguments for `CreateTable` (on-demand), as the Pulumi program declares it."""
    return {
        "TableName": table_name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": attribute_definitions(),
        "KeySchema": [
            {"AttributeName": PARTITION_KEY, "KeyType": "HASH"},
            {"AttributeName": SORT_KEY, "KeyType": "RANGE"},
        ],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": name,
                "KeySchema": [
                    {"AttributeName": pk, "KeyType": "HASH"},
                    {"AttributeName": sk, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
            for name, pk, sk in GSIS
        ],
    }
