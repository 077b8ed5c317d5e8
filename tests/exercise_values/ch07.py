"""Chapter 7: best-of-N on equal levels (E7.1) and the deficit at saturation (E7.3)."""

import mpmath


def _bon_masses(levels: int, n: int) -> list:
    """Best-of-n on the uniform law: F(j)^n - F(j-1)^n with F(j) = j / levels."""
    cdf = [mpmath.mpf(j) / levels for j in range(levels + 1)]
    return [cdf[j] ** n - cdf[j - 1] ** n for j in range(1, levels + 1)]


def exact() -> dict[str, dict[str, mpmath.mpf]]:
    masses = _bon_masses(4, 3)
    kl = mpmath.fsum(m * mpmath.log(4 * m) for m in masses)
    formula = mpmath.log(3) - mpmath.mpf(2) / 3
    c = mpmath.mpf(2)
    # the geometric limit summed term by term: masses (1 - q) q^j, q = e^-c
    q = mpmath.exp(-c)
    limit = -mpmath.nsum(lambda j: (1 - q) * q**j * mpmath.log((1 - q) * q**j), [0, mpmath.inf])
    masses = _bon_masses(10, 20)
    return {
        "E7.1": {"kl": kl, "formula": formula, "gap": formula - kl},
        "E7.3": {
            "top": masses[-1],
            "deficit": -mpmath.fsum(m * mpmath.log(m) for m in masses),
            "limit": limit,
            "lead": (1 + c) * q,
            "loose": c * q,
        },
    }
