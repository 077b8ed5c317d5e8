"""Chapter 12: the scaled CGF of a two-state chain (E12.1), a memoryless chain (E12.2), a hidden period (E12.3)."""

import mpmath


def exact() -> dict[str, dict[str, mpmath.mpf]]:
    a, b = mpmath.mpf("0.1"), mpmath.mpf("0.2")
    trace = (1 - a) + (1 - b) * mpmath.e  # P_1 = [[1-a, a e], [b, (1-b) e]]
    det = (1 - a - b) * mpmath.e
    variance = a * b * (2 - a - b) / (a + b) ** 3
    token_variance = (b / (a + b)) * (a / (a + b))
    kappa = mpmath.log(mpmath.mpf("0.5") + mpmath.mpf("0.3") * mpmath.e + mpmath.mpf("0.2") * mpmath.e**2)
    # stationary law of [[.7, .3, 0], [0, 0, 1], [.5, .5, 0]]: pi_2 = pi_1 = 0.6 pi_0
    pi0 = 1 / (1 + 2 * mpmath.mpf("0.6"))
    odd = mpmath.mpf("0.6") * pi0
    return {
        "E12.1": {
            "lam1": mpmath.log((trace + mpmath.sqrt(trace**2 - 4 * det)) / 2),
            "mean": a / (a + b),
            "var": variance,
            "token_var": token_variance,
            "ratio": variance / token_variance,
        },
        "E12.2": {"kappa": kappa, "log_c": -kappa},
        "E12.3": {"odd": odd, "even": 1 - odd, "ratio": (1 - odd) / odd},
    }
