"""Chapter 10: a Bernoulli tail against Bahadur-Rao (E10.1) and best-of-3 on a special three-level law (E10.2)."""

import mpmath


def exact() -> dict[str, dict[str, mpmath.mpf]]:
    q, a, n = mpmath.mpf(3) / 10, mpmath.mpf(1) / 2, 50
    tail = mpmath.nsum(lambda k: mpmath.binomial(n, k) * q**k * (1 - q) ** (n - k), [25, n])
    theta = mpmath.log(mpmath.mpf(7) / 3)
    rate = a * mpmath.log(a / q) + (1 - a) * mpmath.log((1 - a) / (1 - q))
    br = mpmath.exp(-n * rate) / ((1 - mpmath.exp(-theta)) * a * mpmath.sqrt(2 * mpmath.pi * n))
    # best-of-3 on the uniform law on (0, log 3, log 5): masses (1, 7, 19)/27
    v = [mpmath.mpf(0), mpmath.log(3), mpmath.log(5)]
    pi = [mpmath.mpf(1) / 27, mpmath.mpf(7) / 27, mpmath.mpf(19) / 27]
    mean = sum(x * y for x, y in zip(pi, v, strict=True))

    def tilted(lam):
        z = sum(mpmath.exp(lam * y) for y in v)
        return [mpmath.exp(lam * y) / z for y in v]

    lam = mpmath.findroot(lambda t: sum(w * y for w, y in zip(tilted(t), v, strict=True)) - mean, 1.8)
    d_min = sum(x * mpmath.log(x / w) for x, w in zip(pi, tilted(lam), strict=True))
    return {
        "E10.1": {
            "tail_milli": 1000 * tail,
            "theta": theta,
            "rate": rate,
            "br_milli": 1000 * br,
            "ratio": br / tail,
            "chernoff": mpmath.exp(-n * rate),
        },
        "E10.2": {
            "slope1": mpmath.log(7) / mpmath.log(3),
            "slope2": mpmath.log(mpmath.mpf(19) / 7) / mpmath.log(mpmath.mpf(5) / 3),
            "lam": lam,
            "d_min_e4": 10000 * d_min,
        },
    }
