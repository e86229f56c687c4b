"""How small a change a paired comparison can detect: the minimum detectable effect (MDE) of a two-sided paired
test at level α with the given power, worst case for scores bounded in [lo, hi] (each side's scores independent
with the largest variance, (hi − lo)² / 4, so a paired difference has variance at most (hi − lo)² / 2)."""

from __future__ import annotations

import math
from statistics import NormalDist


def minimum_detectable_effect(n: int, lo: float, hi: float, *, alpha: float = 0.05, power: float = 0.8) -> float:
    """The smallest true change of the mean that n paired samples detect with `power` at level `alpha`."""
    if n <= 0:
        return math.inf
    z = NormalDist().inv_cdf(1 - alpha / 2) + NormalDist().inv_cdf(power)
    return z * (hi - lo) / math.sqrt(2) / math.sqrt(n)
