"""Chapter 3: the per-token budget of a memoryless tilt (E3.1), the equality case of the reduction to the reward
line (E3.2) and the multiplier at a fixed budget for 100 tokens (E3.3), all for the three-letter model."""

import mpmath


def _cgf(lam):
    """kappa(lam) of p = (0.5, 0.3, 0.2) on r = (0, 1, 2)."""
    return mpmath.log(mpmath.mpf("0.5") + mpmath.mpf("0.3") * mpmath.exp(lam) + mpmath.mpf("0.2") * mpmath.exp(2 * lam))


def _mean(lam):
    """kappa'(lam), the mean of the tilt."""
    w1, w2 = mpmath.mpf("0.3") * mpmath.exp(lam), mpmath.mpf("0.2") * mpmath.exp(2 * lam)
    return (w1 + 2 * w2) / (mpmath.mpf("0.5") + w1 + w2)


def exact() -> dict[str, dict[str, mpmath.mpf]]:
    kappa, mean = _cgf(1), _mean(1)
    var = mpmath.mpf("0.3") + 4 * mpmath.mpf("0.2") - (mpmath.mpf("0.3") + 2 * mpmath.mpf("0.2")) ** 2
    approx = mpmath.sqrt(2 / (100 * var))
    root = mpmath.findroot(lambda x: x * _mean(x) - _cgf(x) - mpmath.mpf("0.01"), (0.01, 1), solver="bisect")
    return {
        "E3.1": {"kappa": kappa, "mean": mean, "delta": mean - kappa, "total": 100 * (mean - kappa)},
        "E3.2": {"kl": mpmath.log(2) / 2},
        "E3.3": {"approx": approx, "exact": root, "ratio": root / approx},
    }
