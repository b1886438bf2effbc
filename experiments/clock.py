from __future__ import annotations

import time


def now_ms() -> int:
    """Milliseconds since the epoch: the unit MLflow uses for every timestamp."""
    return time.time_ns() // 1_000_000
