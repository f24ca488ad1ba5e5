"""The simulated fleet: one fixed description per charger, derived from the seed."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from chargerlogs.options import FIRST_CHARGER_ID, LAST_CHARGER_ID, Options

# kind -> (phases, current limit per phase in A)
CHARGER_KINDS: dict[str, tuple[int, float]] = {
    "7.4kW": (1, 32.0),
    "11kW": (3, 16.0),
    "22kW": (3, 32.0),
}
KIND_WEIGHTS = (0.3, 0.4, 0.3)
ADMIN_PRICES = (0.15, 0.18, 0.25, 0.29, 0.35)
HOME_SHARE = 0.6


@dataclass(frozen=True)
class ChargerSpec:
    """What stays fixed about one charger during the simulated window."""

    index: int
    charger_id: int
    kind: str
    phases: int
    max_current_a: float
    site: str
    unit_price: float
    ambient_c: float
    voltage_offset_v: tuple[float, float, float]
    user_ids: tuple[int, ...]

    def to_json(self) -> dict[str, object]:
        """The charger as a JSON-ready record for the manifest."""
        return {
            "charger_id": self.charger_id,
            "kind": self.kind,
            "phases": self.phases,
            "site": self.site,
            "unit_price": self.unit_price,
        }


def build_fleet(options: Options) -> list[ChargerSpec]:
    """Draw the fleet's chargers: ids, kinds, sites, unit prices and electrical quirks."""
    rng = np.random.default_rng([options.seed, 0xF1EE7])
    n = options.chargers
    ids = rng.choice(LAST_CHARGER_ID - FIRST_CHARGER_ID + 1, size=n, replace=False)
    kinds = rng.choice(len(CHARGER_KINDS), size=n, p=KIND_WEIGHTS)
    homes = rng.random(n) < HOME_SHARE
    admin = rng.random(n) < options.admin_price_share
    prices = rng.choice(ADMIN_PRICES, size=n)
    ambient = rng.uniform(12.0, 24.0, size=n)
    offsets = rng.normal(0.0, 1.5, size=(n, 3))
    names = list(CHARGER_KINDS)
    fleet = []
    for i in range(n):
        kind = names[int(kinds[i])]
        phases, limit = CHARGER_KINDS[kind]
        users = rng.integers(10_000, 1_000_000, size=1 if homes[i] else 8)
        fleet.append(
            ChargerSpec(
                index=i,
                charger_id=FIRST_CHARGER_ID + int(ids[i]),
                kind=kind,
                phases=phases,
                max_current_a=limit,
                site="home" if homes[i] else "workplace",
                unit_price=float(prices[i]) if admin[i] else options.default_price,
                ambient_c=float(ambient[i]),
                voltage_offset_v=tuple(float(v) for v in offsets[i]),
                user_ids=tuple(int(u) for u in users),
            )
        )
    return fleet
