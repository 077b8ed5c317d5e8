"""Chapter 11: the sub-Gaussian bound on best-of-4 of a fair coin (E11.1) and a Bernoulli reward that attains the
bound (E11.2)."""

import mpmath


def exact() -> dict[str, dict[str, mpmath.mpf]]:
    top = 1 - mpmath.mpf(1) / 16  # best-of-4 of a fair coin picks r = 1 unless all four draws are 0
    kl = top * mpmath.log(2 * top) + (1 - top) * mpmath.log(2 * (1 - top))
    q = mpmath.mpf(1) / 5

    def g(t):
        return 2 * (mpmath.log(1 - q + q * mpmath.exp(t)) - q * t) / t**2

    t_star = mpmath.findroot(lambda t: mpmath.diff(g, t), 2)  # the interior maximiser of g
    s2 = g(t_star)
    tilted = q * mpmath.exp(t_star) / (1 - q + q * mpmath.exp(t_star))
    kl_tilt = tilted * mpmath.log(tilted / q) + (1 - tilted) * mpmath.log((1 - tilted) / (1 - q))
    return {
        "E11.1": {
            "gain": top - mpmath.mpf(1) / 2,
            "kl": kl,
            "bound": mpmath.sqrt(kl / 2),
            "law_free": mpmath.sqrt((mpmath.log(4) - mpmath.mpf(3) / 4) / 2),
        },
        "E11.2": {"t_star": t_star, "s2": s2, "kl": kl_tilt, "attained": mpmath.sqrt(2 * s2 * kl_tilt)},
    }
