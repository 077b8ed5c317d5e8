"""Chapter 4: the Cramér rate of a Bernoulli reward (E4.1) and the rate at the tilted mean (E4.2)."""

import mpmath


def exact() -> dict[str, dict[str, mpmath.mpf]]:
    a, x = mpmath.mpf("0.3"), mpmath.mpf("0.6")
    probs, rewards, budget = [mpmath.mpf("0.5"), mpmath.mpf("0.3"), mpmath.mpf("0.2")], [0, 1, 2], mpmath.mpf("0.3")

    def moments(lam):
        """kappa(lam) and kappa'(lam) of the three-letter law, from the tilted weights."""
        w = [q * mpmath.exp(lam * v) for q, v in zip(probs, rewards, strict=True)]
        z = mpmath.fsum(w)
        return mpmath.log(z), mpmath.fsum(wi * v for wi, v in zip(w, rewards, strict=True)) / z

    def excess(lam):
        kappa, mean = moments(lam)
        return lam * mean - kappa - budget

    lam = mpmath.findroot(excess, (mpmath.mpf("0.01"), mpmath.mpf(10)), solver="bisect")
    kappa, mean = moments(lam)
    reference_mean = mpmath.fsum(q * v for q, v in zip(probs, rewards, strict=True))
    return {
        "E4.1": {
            "theta": mpmath.log(x * (1 - a) / ((1 - x) * a)),
            "rate": x * mpmath.log(x / a) + (1 - x) * mpmath.log((1 - x) / (1 - a)),
            "top": -mpmath.log(a),
        },
        "E4.2": {"lam": lam, "mean": mean, "reverse": kappa - lam * reference_mean},
    }
