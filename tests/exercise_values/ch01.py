"""Chapter 1: the two-token optimum (E1.1) and the KL-regularized value of a fair coin (E1.2)."""

import mpmath


def exact() -> dict[str, dict[str, mpmath.mpf]]:
    a, budget = mpmath.mpf("0.2"), mpmath.mpf("0.5")
    q = mpmath.findroot(
        lambda t: t * mpmath.log(t / a) + (1 - t) * mpmath.log((1 - t) / (1 - a)) - budget,
        (a + 1e-9, 1 - 1e-9),
        solver="bisect",
    )
    return {
        "E1.1": {"q": q, "lam": mpmath.log(q / (1 - q)) - mpmath.log(a / (1 - a))},
        "E1.2": {"value": mpmath.log((1 + mpmath.e) / 2)},
    }
