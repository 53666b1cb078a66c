"""The GraphQL documents the Shopify reconciler sends, and their documented query-cost estimates.

Only text and arithmetic live here (no I/O), so tests validate exactly these documents against the
official Admin API schema. The documents must never carry a value: everything goes in variables.
"""

from __future__ import annotations

# Read the synced variants by id: variant -> inventory item -> its level at the store's one location.
OBSERVE_VARIANTS = """
query StocksyncObserveVariants($ids: [ID!]!, $locationId: ID!) {
  nodes(ids: $ids) {
    ... on ProductVariant {
      id
      inventoryPolicy
      inventoryItem {
        id
        tracked
        inventoryLevel(locationId: $locationId) {
          quantities(names: ["available"]) {
            name
            quantity
          }
        }
      }
    }
  }
}
""".strip()

# Absolute write with compare-and-set (changeFromQuantity in every entry) and an idempotency key
# (both mandatory from 2026-04), so a transport retry can never apply a batch twice.
SET_AVAILABLE = """
mutation StocksyncSetAvailable($input: InventorySetQuantitiesInput!, $idempotencyKey: String!) {
  inventorySetQuantities(input: $input) @idempotent(key: $idempotencyKey) {
    inventoryAdjustmentGroup {
      changes(quantityNames: ["available"]) {
        name
        quantityAfterChange
        item {
          id
        }
        location {
          id
        }
      }
    }
    userErrors {
      code
      field
      message
    }
  }
}
""".strip()

# Per node: the node object, its inventory item, the level and the quantities list count one point
# each (objects 1, scalars and enums 0: shopify.dev rate-limits page); the root field one more.
POINTS_PER_OBSERVED_VARIANT = 4
MUTATION_COST = 10  # the documented flat cost of a mutation


def observe_cost(count: int) -> float:
    """Requested cost of OBSERVE_VARIANTS for `count` ids (the single-query limit is 1000)."""
    return float(1 + POINTS_PER_OBSERVED_VARIANT * count)
