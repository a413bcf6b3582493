"""`iso` writes exactly what datetime writes for the same epoch seconds, microsecond rounding included."""

import random
from datetime import UTC, datetime

from runapi.domain.times import iso


def by_datetime(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_iso_is_datetimes_answer():
    rng = random.Random(7)
    edges = [0, 0.0, -0.0, 1.9999994, 1.9999995, 1.9999996, 2.4999995, 0.9999995, 0.9999994, -0.5, -0.0000004]
    edges += [-0.0000006, -1.9999996, 1765000000.25, 1765000000.9999996, 1765000000.9999995, 4102444800.5]
    edges += [253402300799.0, 951782400.0, 1e9 + 0.4999995]
    values = edges + [rng.uniform(-1e9, 4e9) for _ in range(20000)]
    values += [rng.randrange(0, 4 * 10**9) + rng.choice([0.9999994, 0.9999995, 0.9999996]) for _ in range(5000)]
    for ts in values:
        assert iso(ts) == by_datetime(ts), ts
    assert iso(None) is None
