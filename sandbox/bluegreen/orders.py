"""The demo's order store: what a migration can lose.

Both versions share one store by default, as blue and green share the production database in a
real blue/green cut-over, so an order written through blue reads back through green. The two
ways a real cut-over loses data are one constructor argument away (``BlueGreenDemo(green_store=)``):

* ``empty``: green runs on its own, new database that nobody migrated: orders acknowledged by
  blue are 404 through green (data loss);
* ``corrupt``: green reads the shared database through a broken conversion: the order comes back
  with its ``data`` field changed (data corruption).

The store keeps the newest ``capacity`` orders (a demo under a load test must not grow forever);
ids below 1001 are the demo's fixed catalogue and never stored (``GET /api/orders/7`` is the load
tests' read).
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any, Literal

GreenStore = Literal["shared", "empty", "corrupt"]
FIRST_ORDER_ID = 1001


class OrderStore:
    """Acknowledged orders by id, the newest ``capacity`` of them."""

    def __init__(self, ids: Iterator[int] | None = None, *, capacity: int = 100_000) -> None:
        self._ids = ids if ids is not None else itertools.count(FIRST_ORDER_ID)
        self._orders: OrderedDict[int, dict[str, Any]] = OrderedDict()
        self.capacity = capacity

    def add(self, order: dict[str, Any]) -> int:
        order_id = next(self._ids)
        self._orders[order_id] = order
        while len(self._orders) > self.capacity:
            self._orders.popitem(last=False)
        return order_id

    def get(self, order_id: int) -> dict[str, Any] | None:
        return self._orders.get(order_id)


class CorruptingView:
    """The shared store read through a broken conversion: every order's ``data`` comes back changed."""

    def __init__(self, store: OrderStore) -> None:
        self._store = store

    def add(self, order: dict[str, Any]) -> int:
        return self._store.add(order)

    def get(self, order_id: int) -> dict[str, Any] | None:
        order = self._store.get(order_id)
        if order is None:
            return None
        data = order.get("data")
        return {**order, "data": (data[::-1] + "?") if isinstance(data, str) else "?"}


def stores_for(green: GreenStore) -> dict[str, Any]:
    """The store each version writes to and reads from."""
    shared = OrderStore()
    if green == "empty":
        return {"blue": shared, "green": OrderStore(itertools.count(500_001))}  # its own ids: a read of blue's is 404
    if green == "corrupt":
        return {"blue": shared, "green": CorruptingView(shared)}
    return {"blue": shared, "green": shared}
