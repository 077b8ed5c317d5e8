"""Chapter 5: the cumulants of an aligned Bernoulli reward (E5.1) and a Rényi cross entropy with its limit at
order one (E5.2)."""

import mpmath


def exact() -> dict[str, dict[str, mpmath.mpf]]:
    pi, lam = mpmath.mpf("0.1"), mpmath.mpf("0.5")
    w = pi * mpmath.exp(lam) / (1 - pi + pi * mpmath.exp(lam))  # the tilted probability of the reward 1
    k2 = w * (1 - w)
    k3 = k2 * (1 - 2 * w)
    k4 = k2 * (1 - 6 * w + 6 * w**2)
    q = [mpmath.mpf(x) for x in ("0.5", "0.3", "0.2")]
    s = [mpmath.mpf(x) for x in ("0.2", "0.3", "0.5")]
    return {
        "E5.1": {"k1": w, "k2": k2, "k3": k3, "k4": k4, "skew": k3 / k2 ** mpmath.mpf(1.5) / 10},
        "E5.2": {
            "h2": -mpmath.log(sum(a * b for a, b in zip(q, s, strict=True))),
            "h_half": 2 * mpmath.log(sum(a / mpmath.sqrt(b) for a, b in zip(q, s, strict=True))),
            "h1": -sum(a * mpmath.log(b) for a, b in zip(q, s, strict=True)),
        },
    }
