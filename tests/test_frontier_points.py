"""Measured runs overlaid on the plot (--points), N labels on the best-of-N points, a legend that says what each
mark is."""

import numpy as np
import pytest

from lmalign.cli import main as cli_main
from lmalign.frontier import RewardFileError, example_file, frontier, read_samples
from lmalign.frontier.cli import draw
from lmalign.frontier.files import read_points


def legend_and_texts(fig):
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    legend = [t.get_text() for ax in fig.axes for t in ax.get_legend().get_texts()]
    return texts, legend


def test_points_are_read_from_csv_and_jsonl(tmp_path):
    csv = tmp_path / "runs.csv"
    csv.write_text('kl,reward,label\n0.4,0.7,"RL checkpoint, step 2000"\n1.2,0.98,\n')
    jl = tmp_path / "runs.jsonl"
    jl.write_text('{"kl": 0.4, "reward": 0.7, "label": "RL checkpoint, step 2000"}\n{"kl": 1.2, "reward": 0.98}\n')
    want = [{"kl": 0.4, "reward": 0.7, "label": "RL checkpoint, step 2000"}, {"kl": 1.2, "reward": 0.98, "label": ""}]
    assert read_points(csv) == want
    assert read_points(jl) == want


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("kl,reward\n-0.1,1\n", "negative"),
        ("kl,label\n0.1,a\n", "no 'reward' column"),
        ("kl,reward\n0.1,abc\n", "not a number"),
        ("", "no points"),
    ],
)
def test_bad_points(tmp_path, text, message, capsys):
    path = tmp_path / "runs.csv"
    path.write_text(text)
    with pytest.raises(RewardFileError, match=message):
        read_points(path)
    assert (
        cli_main(
            [
                "frontier",
                str(example_file()),
                "--column",
                "reward",
                "--points",
                str(path),
                "--out",
                str(tmp_path / "f.svg"),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message.split("'")[0] in err
    assert not (tmp_path / "f.svg").exists()


def test_the_plot_labels_n_and_the_runs(tmp_path):
    s = read_samples(example_file(), column="reward", group="prompt_id")
    fr = frontier(s.rewards, groups=s.groups, max_n=64, progress=False)
    points = [{"kl": 0.4, "reward": 0.7, "label": "PPO step 2000"}, {"kl": 0.9, "reward": 0.8, "label": ""}]
    fig = draw(fr, points)
    texts, legend = legend_and_texts(fig)
    assert "N=1" in texts and "N=2" in texts and "N=4" in texts
    assert "PPO step 2000" in legend and "run 2" in legend
    assert any("log N - (N-1)/N" in t for t in legend) and any("exact KL" in t for t in legend)
    # the runs are on the reward panel at their coordinates
    xy = {tuple(np.round(line.get_xydata()[0], 6)) for line in fig.axes[0].lines if line.get_marker() == "D"}
    assert xy == {(0.4, 0.7), (0.9, 0.8)}
    # stacked panels no wider than a page, every legend entry and N label at least at the tick-label size
    fig.canvas.draw()
    tick = min(t.get_fontsize() for ax in fig.axes for t in ax.get_xticklabels())
    assert fig.get_size_inches()[0] <= 8 and fig.axes[0].get_position().y0 > fig.axes[1].get_position().y1
    sizes = [t.get_fontsize() for ax in fig.axes for t in [*ax.get_legend().get_texts(), *ax.texts]]
    assert min(sizes) >= tick, (min(sizes), tick)
    # N labels do not pile up where the rows crowd together beyond the samples (5 per prompt)
    assert len([t for t in texts if t.startswith("N=")]) < 2 * len(fr.n)
    svg = tmp_path / "f.svg"
    runs = tmp_path / "runs.csv"
    runs.write_text("kl,reward,label\n0.4,0.7,PPO step 2000\n")
    assert (
        cli_main(
            [
                "frontier",
                str(example_file()),
                "--column",
                "reward",
                "--group",
                "prompt_id",
                "--points",
                str(runs),
                "--out",
                str(svg),
                "--quiet",
            ]
        )
        == 0
    )
    assert "PPO step 2000" in svg.read_text()
