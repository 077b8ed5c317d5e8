"""Bootstrap intervals of the optimum are exact: each resample's optimum is solved again.

With one resample the interval is that resample's value, so it can be compared with the frontier of the
resampled prompts built explicitly (each prompt copied as often as it was drawn, as a prompt of its own)."""

import numpy as np
import pytest

from lmalign.frontier import example_rewards, frontier


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_one_resample_is_the_frontier_of_the_resampled_prompts(seed):
    prompt, reward = example_rewards(prompts=40, per_prompt=5, seed=7)
    ns = [1, 2, 4, 16]
    fr = frontier(reward, groups=prompt, n=ns, max_n=16, progress=False, bootstrap=1, seed=seed)
    # the resampling scheme: multinomial counts over the prompts, in the order of their ids
    G = 40
    counts = np.random.default_rng(seed).multinomial(G, np.full(G, 1.0 / G))
    ids, rs = [], []
    for g in range(G):
        for copy in range(counts[g]):
            ids += [f"{g}-{copy}"] * 5
            rs += reward[prompt == g].tolist()
    direct = frontier(np.array(rs), groups=np.array(ids), n=ns, max_n=16, progress=False)
    # both solvers stop within 1e-13 max(1, KL) of the KL; dE_opt/dKL = beta = 1/lambda, and the win rate moves
    # less than 1 per nat (dwin/dKL <= beta * max density...), so beta * 2e-13 max(1, KL) plus the rounding of
    # sums over the 200 samples, 200 * 2^-52 of the rewards' size, bounds the difference
    size = float(np.max(np.abs(reward)))
    beta = np.where(np.isfinite(direct.opt_beta), direct.opt_beta, 0.0)
    tol = beta * 2e-13 * np.maximum(1.0, direct.bon_kl) + 200 * 2.0**-52 * max(size, 1.0)
    for key in ("opt_mean", "opt_win", "bon_mean", "bon_kl"):
        lo, hi = fr.ci[key][:, 0], fr.ci[key][:, 1]
        np.testing.assert_array_equal(lo, hi)
        assert np.all(np.abs(lo - getattr(direct, key)) <= tol), (key, lo - getattr(direct, key), tol)
    gain = fr.ci["opt_gain"][:, 0]
    assert np.all(np.abs(gain - (direct.opt_mean - direct.reference_mean)) <= tol)
