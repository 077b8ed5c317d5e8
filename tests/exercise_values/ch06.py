"""Chapter 6: best-of-4 of a two-level law (E6.1) and best-of-2 of a uniform three-level law (E6.2)."""

import mpmath


def exact() -> dict[str, dict[str, mpmath.mpf]]:
    top = 1 - mpmath.mpf("0.7") ** 4
    kl6 = top * mpmath.log(top / mpmath.mpf("0.3")) + (1 - top) * mpmath.log((1 - top) / mpmath.mpf("0.7"))
    return {
        "E6.1": {
            "top": top,
            "bottom": 1 - top,
            "kl": kl6,
            "bound": mpmath.log(4) - mpmath.mpf(3) / 4,
            "gap": mpmath.log(4) - mpmath.mpf(3) / 4 - kl6,
        },
        "E6.2": {
            "ratio": mpmath.log(3) / mpmath.log(mpmath.mpf(5) / 3),
            "kl": mpmath.log(mpmath.mpf(1) / 3) / 9 + 5 * mpmath.log(mpmath.mpf(5) / 3) / 9,
        },
    }
