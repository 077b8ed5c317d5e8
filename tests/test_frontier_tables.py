"""The Python API on tables: pandas, polars and pyarrow give the numbers of the arrays, ids compared as text, and
every bad column is a clear ``ValueError``; the result converts to a DataFrame."""

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from lmalign.frontier import example_rewards, frontier


@pytest.fixture(scope="module")
def example():
    prompt, reward = example_rewards(prompts=60, per_prompt=6)
    ref = frontier(reward, groups=prompt, n=[1, 2, 4], max_n=4, progress=False)
    return prompt, reward, ref


def tables(prompt, reward):
    frame = pd.DataFrame({"prompt": prompt, "score": reward})
    yield "pandas int ids", frame
    yield "pandas str ids", frame.assign(prompt=[f"p{i:03d}" for i in prompt])
    yield "polars", pl.from_pandas(frame)
    yield "pyarrow", pa.Table.from_pandas(frame)
    yield "pyarrow str ids", pa.table({"prompt": pa.array([str(i) for i in prompt]), "score": reward})


def test_tables_give_the_numbers_of_the_arrays(example):
    prompt, reward, ref = example
    for what, table in tables(prompt, reward):
        fr = frontier(table, reward="score", group="prompt", n=[1, 2, 4], max_n=4, progress=False)
        assert fr.groups == ref.groups, what
        # the same per-prompt numbers summed in another order of prompts: a few roundings of the average
        for key in ("bon_kl", "bon_mean", "bon_win", "opt_mean", "opt_win", "opt_lam"):
            np.testing.assert_allclose(getattr(fr, key), getattr(ref, key), rtol=1e-12, atol=1e-12, err_msg=what)


def test_text_ids_in_a_dataframe_stay_distinct():
    frame = pd.DataFrame({"prompt": ["007", "7", "1.0", "1"] * 2, "score": [0.0, 1.0, 2.0, 3.0, 0.5, 1.5, 2.5, 3.5]})
    fr = frontier(frame, reward="score", group="prompt", n=[1], max_n=1, progress=False)
    assert fr.groups == 4
    assert fr.reference_mean == pytest.approx(np.mean([0.25, 1.25, 2.25, 3.25]), abs=1e-15)


def test_the_result_is_a_dataframe(example):
    _, _, ref = example
    frame = ref.to_pandas()
    assert list(frame["n"]) == [1, 2, 4]
    np.testing.assert_array_equal(frame["opt_mean"].to_numpy(), ref.opt_mean)
    assert np.isnan(frame["opt_top_share"].iloc[0])  # no gain at N = 1: missing, not None
    assert frame.shape[0] == len(ref.to_dict()["rows"])


@pytest.mark.parametrize(
    ("column", "message"),
    [
        (pd.Series([1.0, 2.0, 3.0]) + 1j, "complex"),
        (pd.array([1.0, None, 3.0], dtype="Float64"), "row 1 is missing"),
        (["a", "b", "c"], "not a real number"),
        ([True, False, True], "boolean"),
    ],
)
def test_bad_reward_columns(column, message):
    frame = pd.DataFrame({"prompt": ["a", "a", "b"], "score": column})
    with pytest.raises(ValueError, match=message):
        frontier(frame, reward="score", group="prompt", progress=False)


@pytest.mark.parametrize(
    ("ids", "message"),
    [
        (["a", 7, "b"], "mixes strings and integers"),
        (["a", None, "b"], "row 1 is missing"),
        (["a", {"x": 1}, "b"], "dict"),
        ([1.0, 2.0, 2.0], "floating-point"),
    ],
)
def test_bad_group_columns(ids, message):
    frame = pd.DataFrame(
        {"prompt": pd.Series(ids, dtype=object if not isinstance(ids[0], float) else float), "score": [0.0, 1.0, 2.0]}
    )
    with pytest.raises(ValueError, match=message):
        frontier(frame, reward="score", group="prompt", progress=False)


def test_bad_arrays_and_options():
    cases = [
        (dict(rewards=np.ma.masked_array([1.0, 2.0], [0, 1])), "masked"),
        (dict(rewards=np.array([1.0, 2.0]) + 0j), "complex"),
        (dict(groups=[None, "a"]), "missing"),
        (dict(groups=[{}, "a"]), "dict"),
        (dict(groups=[7, "7"]), "mixes strings and integers"),
        (dict(n=4), "list of integers"),
        (dict(confidence="0.9", bootstrap=2, groups=["a", "b"]), "confidence"),
        (dict(seed="1", bootstrap=2, groups=["a", "b"]), "seed"),
        (dict(reward="r"), "name columns of a table"),
    ]
    for kw, message in cases:
        kw = {"rewards": [1.0, 2.0], **kw}
        with pytest.raises(ValueError, match=message):
            frontier(progress=False, **kw)
    with pytest.raises(ValueError, match="needs reward="):
        frontier(pd.DataFrame({"r": [1.0]}), progress=False)
    with pytest.raises(ValueError, match="no reward column 'x'"):
        frontier(pl.DataFrame({"r": [1.0]}), reward="x", progress=False)
