import sympy as sp

from lmalign.symbolic import cumulant_series, symbolic_cgf, tilt_kl_expr, tilted_probs


def test_tilt_kl_derivative_is_l_kappa_second():
    l = sp.Symbol("l")  # noqa: E741
    a, b = sp.symbols("a b", positive=True)
    kappa = symbolic_cgf([a / (a + b), b / (a + b)], [0, 1], l)
    d = tilt_kl_expr(kappa, l)
    assert sp.simplify(sp.diff(d, l) - l * sp.diff(kappa, l, 2)) == 0
    q = tilted_probs([a / (a + b), b / (a + b)], [0, 1], l)
    assert sp.simplify(sum(q) - 1) == 0


def test_cumulant_series_of_bernoulli():
    l = sp.Symbol("l")  # noqa: E741
    p = sp.Symbol("p", positive=True)
    c = cumulant_series(symbolic_cgf([1 - p, p], [0, 1], l), l, 0, 3)
    assert [sp.expand(x) for x in c] == [p, sp.expand(p * (1 - p)), sp.expand(p * (1 - p) * (1 - 2 * p))]
