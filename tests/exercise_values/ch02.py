"""Chapter 2: a policy with the optimum's reward and more budget (E2.1), best-of-2 of the three-letter model
measured against the optimum at its own budget (E2.3)."""

import mpmath


def _three_letter(lam):
    """kappa, kappa' and the tilt of p = (0.5, 0.3, 0.2) on r = (0, 1, 2) at lam."""
    w = [mpmath.mpf("0.5"), mpmath.mpf("0.3") * mpmath.exp(lam), mpmath.mpf("0.2") * mpmath.exp(2 * lam)]
    z = mpmath.fsum(w)
    return mpmath.log(z), (w[1] + 2 * w[2]) / z, [x / z for x in w]


def _multiplier(budget):
    """Root of lam kappa'(lam) - kappa(lam) = budget (bisection: the left side increases)."""
    return mpmath.findroot(
        lambda x: x * _three_letter(x)[1] - _three_letter(x)[0] - budget, (1e-6, 20), solver="bisect"
    )


def _kl(a, b):
    return mpmath.fsum(x * mpmath.log(x / y) for x, y in zip(a, b, strict=True) if x)


def exact() -> dict[str, dict[str, mpmath.mpf]]:
    p = [mpmath.mpf("0.5"), mpmath.mpf("0.3"), mpmath.mpf("0.2")]
    budget = mpmath.mpf("0.2")
    lam = _multiplier(budget)
    m = _three_letter(lam)[1]
    phi = [1 - m / 2, 0, m / 2]
    kl_p = _kl(phi, p)
    bon = [mpmath.mpf("0.25"), mpmath.mpf("0.39"), mpmath.mpf("0.36")]  # F^2 - F_-^2 with F = (0.5, 0.8, 1)
    kl2 = _kl(bon, p)
    lam2 = _multiplier(kl2)
    gap = _three_letter(lam2)[1] - (bon[1] + 2 * bon[2])
    return {
        "E2.1": {"lam": lam, "m": m, "kl_p": kl_p, "dist": kl_p - budget},
        "E2.3": {"kl": kl2, "lam": lam2, "gap": gap, "dist": lam2 * gap},
    }
