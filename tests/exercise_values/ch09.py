"""Chapter 9: best-of-2 against two tilts of a fair coin (E9.1) and the power mean on two cells (E9.2)."""

import mpmath


def exact() -> dict[str, dict[str, mpmath.mpf]]:
    e = mpmath.e
    low, high = mpmath.sqrt(mpmath.mpf(1) / 12), mpmath.sqrt(mpmath.mpf(7) / 12)
    # best-of-3 puts (1/8, 7/8) on the two levels, the mid-rank policy (1/10, 9/10)
    kl = mpmath.mpf(1) / 8 * mpmath.log(mpmath.mpf(10) / 8) + mpmath.mpf(7) / 8 * mpmath.log(mpmath.mpf(70) / 72)
    return {
        "E9.1": {"bon": 1 - mpmath.mpf(1) / 4, "tilt": e / (1 + e), "tilt2": e**2 / (1 + e**2)},
        "E9.2": {"low": low, "high": high, "kl_milli": 1000 * kl},
    }
