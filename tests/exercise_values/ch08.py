"""Chapter 8: the win-rate gap of a three-level law (E8.1) and the frontier at N = 2 (E8.3)."""

import mpmath


def exact() -> dict[str, dict[str, mpmath.mpf]]:
    p = [mpmath.mpf("0.5"), mpmath.mpf("0.3"), mpmath.mpf("0.2")]
    n = 4
    # win rate as P(X > Y) + P(X = Y)/2 with X best-of-4 and Y a reference draw
    below = [mpmath.fsum(p[:k]) for k in range(3)]
    bon = [(below[k] + p[k]) ** n - below[k] ** n for k in range(3)]
    win = mpmath.fsum(bon[k] * (below[k] + p[k] / 2) for k in range(3))
    collision = mpmath.fsum(q**2 for q in p)
    gap = mpmath.mpf(n) / (n + 1) - win

    def kl(c):
        return mpmath.log(c / mpmath.expm1(c)) + c / (1 - mpmath.exp(-c)) - 1

    target = mpmath.log(2) - mpmath.mpf(1) / 2
    c2 = mpmath.findroot(lambda c: kl(c) - target, (1, 4), solver="bisect")
    win2 = 1 / (1 - mpmath.exp(-c2)) - 1 / c2
    return {
        "E8.1": {
            "bottom": bon[0],
            "middle": bon[1],
            "top": bon[2],
            "win": win,
            "gap": gap,
            "sharp": n * collision / 8,
            "stated": (n - 1) * collision / 2,
            "fraction": gap / (n * collision / 8),
        },
        "E8.3": {"kl": target, "c": c2, "win": win2, "gap": win2 - mpmath.mpf(2) / 3},
    }
