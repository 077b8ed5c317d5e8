"""The Explorer page: exact best-of-N against the KL-constrained optimum, precomputed on a grid and shown with Bokeh.

:func:`compute` evaluates, with the library, every quantity the page shows at every point of a grid of token
models, lengths ``n`` and per-token budgets ``delta`` (``N = e^{n delta}``): the exact laws of the per-token reward
under the reference ``p``, under the optimum ``phi_{n delta}`` (the ``n``-token law tilted by the one-token
multiplier ``lambda_delta``) and under best-of-``N`` (ties at random); their means and relative entropies; and the
frontier of the shipped example reward samples (:func:`lmalign.frontier.example_file`, per prompt).
:func:`explorer_html` lays them out as a Bokeh document whose controls switch the displayed data in the browser
(a ``CustomJS`` callback, no server), with Bokeh's JavaScript inlined so that the page works offline.
:func:`recheck` and :func:`exact_violation` are the chapter's claim checks; :func:`snapshot_figure` its static
figure. This is presentation: the mathematics is in :mod:`lmalign`.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np

from lmalign import RewardLaw, best_of_n, kl_constrained

# names of the Bokeh models a script (or a test) looks up with Bokeh.documents[0].get_model_by_name(...)
NAMES = {
    "model": "explorer_model",
    "length": "explorer_length",
    "budget": "explorer_budget",
    "readout": "explorer_readout",
    "summary": "explorer_summary",
    "p": "explorer_law_p",
    "phi": "explorer_law_phi",
    "bon": "explorer_law_bon",
    "front_bon": "explorer_frontier_bon",
    "front_now": "explorer_frontier_now",
    "rates": "explorer_rates",
    "rates_now": "explorer_rates_now",
    "samples_n": "explorer_samples_n",
    "samples_readout": "explorer_samples_readout",
    "samples_now": "explorer_samples_now",
}
SUMMARY_COLUMNS = (
    "m",
    "i_n",
    "i_d",
    "n",
    "delta",
    "log_n",
    "lam",
    "x_star",
    "p_mean",
    "phi_mean",
    "bon_mean",
    "d_bon_phi",
    "d_bon_p",
    "bound",
    "gap",
    "rate_gap",
    "rate_kl",
)
CURVE_POINTS = 61  # points of the optimum's reward-KL curve per model
WIDTH = 660  # pixels: the width of the book's text column
MODEL_WIDTH = 160  # pixels: the token model selector
CONTROL_GAP = 24  # pixels between the selector and the sliders, half of it between the two sliders


def length_grid(max_length: int, per_decade: int) -> list[int]:
    """Lengths ``round(10^(k / per_decade))`` from 1 to ``max_length`` (included), without repeats."""
    top = math.log10(max_length)
    out = np.round(10.0 ** (np.arange(0, math.floor(top * per_decade + 1e-9) + 1) / per_decade)).astype(int)
    return sorted(set(out.tolist()) | {int(max_length)})


def token_models(model3_p, model3_r, model10_p, model10_r, words: bool = True) -> dict[str, tuple]:
    """The book's token models as ``name -> (p, r)``: the three-letter and ten-token models of chapters 3 to 6 and,
    if ``words``, the English word model of chapter 13 (:func:`lmalign.wordmodel.load_word_model`)."""
    out = {
        "three-letter": (np.asarray(model3_p, float), np.asarray(model3_r, float)),
        "ten-token": (np.asarray(model10_p, float), np.asarray(model10_r, float)),
    }
    if words:
        from lmalign.wordmodel import load_word_model

        wm = load_word_model()
        out["English words"] = (wm.probs, wm.valence)
    return out


@dataclass
class ExplorerData:
    """Everything the page shows, exact and precomputed.

    ``summary``: one row per (model ``m``, length index ``i_n``, budget index ``i_d``), ordered so that the row of a
    setting is ``(m * len(lengths) + i_n) * len(fractions) + i_d``; all means and relative entropies per token.
    ``law_x``, ``law_mass``: the plotted levels (per-token reward ``v / n``) and their exact probabilities, all laws
    one after the other; ``offsets["m,i_n,p"]``, ``offsets["m,i_n,i_d,phi"]``, ``offsets["m,i_n,i_d,bon"]`` give
    each law's ``[start, stop)``. ``curve``: the optimum's per-token reward against its per-token relative entropy
    (``m``, ``kl``, ``mean``). ``samples``: the frontier of the example reward samples.
    """

    models: list[str]
    lengths: list[int]
    fractions: list[float]
    deltas: list[list[float]]
    max_kl: list[float]
    summary: dict[str, np.ndarray]
    law_x: np.ndarray
    law_mass: np.ndarray
    offsets: dict[str, list[int]]
    curve: dict[str, np.ndarray]
    samples: dict[str, np.ndarray] = field(default_factory=dict)

    def row(self, m: int, i_n: int, i_d: int) -> int:
        """The summary row of a setting."""
        return (m * len(self.lengths) + i_n) * len(self.fractions) + i_d

    def law(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        """The plotted points ``(v / n, probability)`` of one law, e.g. ``law("0,3,2,bon")``."""
        a, b = self.offsets[key]
        return self.law_x[a:b], self.law_mass[a:b]


def plotted_levels(law: RewardLaw, n: int, points: int, floor: float) -> tuple[np.ndarray, np.ndarray]:
    """The levels of ``law`` shown in the plot: those with probability at least ``floor`` times the largest, at most
    ``points`` of them evenly spread over that window (the most likely level always kept), as ``(v / n, p)``."""
    lp = law.logprobs
    keep = np.flatnonzero(lp >= lp.max() + math.log(floor))
    if keep.size > points:
        pick = np.unique(np.round(np.linspace(0, keep.size - 1, points)).astype(int))
        keep = np.union1d(keep[pick], [int(np.argmax(lp))])
    return law.values[keep] / n, np.exp(lp[keep])


def setting_values(law_n: RewardLaw, n: int, delta: float, lam: float) -> tuple[RewardLaw, RewardLaw, dict]:
    """The optimum ``phi = law_n.tilt(lam)`` and best-of-``e^{n delta}`` of the ``n``-token law, and the page's
    numbers for them, per token: means, ``D(BoN||phi)``, ``D(BoN||p)`` and its bound ``delta - (1 - 1/N) / n``."""
    phi = law_n.tilt(lam)
    bon = best_of_n(law_n, log_n=n * delta)
    values = {
        "phi_mean": phi.mean() / n,
        "bon_mean": bon.mean() / n,
        "p_mean": law_n.mean() / n,
        "d_bon_phi": bon.kl(phi) / n,
        "d_bon_p": bon.kl(law_n) / n,
        "bound": delta + math.expm1(-n * delta) / n,
    }
    return phi, bon, values


def compute(
    models: dict[str, tuple],
    lengths: list[int],
    fractions: list[float],
    points: int = 48,
    floor: float = 1e-6,
    samples_n: list[int] | None = None,
) -> ExplorerData:
    """Evaluate the page's data with the library on the grid ``models x lengths x fractions``, the budgets being
    ``delta = fraction * D_max`` with ``D_max = -log p(top token)`` of each model (``0 < fraction < 1``).

    Each law is kept at :func:`plotted_levels` (``points``, ``floor``); the numbers are float64, the plotted
    probabilities float32. ``samples_n``: the ``N`` of the example reward samples' frontier (``None``: no example).
    """
    if not all(0 < f < 1 for f in fractions):
        raise ValueError(f"fractions must be in (0, 1), got {fractions!r}")
    rows: dict[str, list] = {k: [] for k in SUMMARY_COLUMNS}
    xs, ps, offsets = [], [], {}
    curve: dict[str, list] = {"m": [], "kl": [], "mean": []}
    deltas, max_kl = [], []
    size = 0

    def put(key: str, x: np.ndarray, p: np.ndarray) -> None:
        nonlocal size
        xs.append(x)
        ps.append(p)
        offsets[key] = [size, size + x.size]
        size += x.size

    for m, (p, r) in enumerate(models.values()):
        token = RewardLaw(r, p)
        d_max = token.max_kl
        max_kl.append(d_max)
        sols = [kl_constrained(token, f * d_max) for f in fractions]
        deltas.append([f * d_max for f in fractions])
        for f in np.linspace(0.0, 1.0, CURVE_POINTS)[:-1]:
            curve["m"].append(m)
            curve["kl"].append(f * d_max)
            curve["mean"].append(kl_constrained(token, f * d_max).mean)
        curve["m"].append(m)
        curve["kl"].append(d_max)
        curve["mean"].append(token.top)
        for i_n, n in enumerate(lengths):
            law_n = RewardLaw.from_tokens(p, r, n)
            put(f"{m},{i_n},p", *plotted_levels(law_n, n, points, floor))
            for i_d, (f, sol) in enumerate(zip(fractions, sols, strict=True)):
                delta = f * d_max
                phi, bon, values = setting_values(law_n, n, delta, sol.lam)
                put(f"{m},{i_n},{i_d},phi", *plotted_levels(phi, n, points, floor))
                put(f"{m},{i_n},{i_d},bon", *plotted_levels(bon, n, points, floor))
                values.update(
                    m=m,
                    i_n=i_n,
                    i_d=i_d,
                    n=n,
                    delta=delta,
                    log_n=n * delta,
                    lam=sol.lam,
                    x_star=sol.mean,
                    gap=sol.mean - values["bon_mean"],
                    rate_gap=math.log(n) / (2 * sol.lam * n) if n > 1 else math.nan,
                    rate_kl=math.log(n) / (2 * n) if n > 1 else math.nan,
                )
                for k in SUMMARY_COLUMNS:
                    rows[k].append(values[k])
    data = ExplorerData(
        models=list(models),
        lengths=list(lengths),
        fractions=list(fractions),
        deltas=deltas,
        max_kl=max_kl,
        summary={k: np.asarray(v, dtype=float) for k, v in rows.items()},
        law_x=np.concatenate(xs).astype(np.float32),
        law_mass=np.concatenate(ps).astype(np.float32),
        offsets=offsets,
        curve={k: np.asarray(v, dtype=float) for k, v in curve.items()},
    )
    if samples_n:
        data.samples = example_frontier(samples_n)
    return data


def example_frontier(ns: list[int]) -> dict[str, np.ndarray]:
    """Best-of-``N`` and the KL-regularized optimum of the shipped example rewards, per prompt
    (:func:`lmalign.frontier.frontier` with the ``prompt_id`` groups), at the given ``N``."""
    from tqdm import TqdmWarning

    from lmalign.frontier import example_file, frontier
    from lmalign.frontier.files import read_samples

    samples = read_samples(example_file(), column="reward", group="prompt_id")
    with warnings.catch_warnings():  # tqdm.auto warns in a kernel without ipywidgets; no bar is shown here
        warnings.simplefilter("ignore", TqdmWarning)
        fr = frontier(samples.rewards, groups=samples.groups, n=list(ns), max_n=max(ns), progress=False)
    return {
        "n": fr.n.astype(float),
        "bon_kl": fr.bon_kl,
        "bon_mean": fr.bon_mean,
        "opt_mean": fr.opt_mean,
        "bound": fr.bound,
        "tilt_kl": fr.tilt_kl,
        "tilt_mean": fr.tilt_mean,
        "reference_mean": np.array([fr.reference_mean]),
        "prompts": np.array([float(samples.n_groups)]),
        "count": np.array([float(samples.rewards.size)]),
    }


# -- claim checks ---------------------------------------------------------------------------------------------------
def recheck(data: ExplorerData, models: dict[str, tuple], settings: list[tuple[int, int, int]]) -> dict[str, float]:
    """Recompute the page's numbers and plotted laws at ``settings`` ``(m, i_n, i_d)`` independently: the optimum's
    multiplier solved on the ``n``-token law at budget ``n delta`` (not the one-token ``lambda_delta``), its law and
    best-of-``e^{n delta}`` from the library. Returns the largest differences ``{"numbers": ..., "laws": ...}``, the
    numbers relative to ``max(1, |value|)`` (per-token rewards, relative entropies and multipliers, of order 1), the
    plotted probabilities relative to the probability (they are stored in single precision)."""
    worst = {"numbers": 0.0, "laws": 0.0}
    names = list(models)
    for m, i_n, i_d in settings:
        p, r = models[names[m]]
        n = data.lengths[i_n]
        delta = data.deltas[m][i_d]
        law_n = RewardLaw.from_tokens(p, r, n)
        sol = kl_constrained(law_n, n * delta)
        phi, bon, values = setting_values(law_n, n, delta, sol.lam)
        values.update(lam=sol.lam, x_star=sol.mean / n)
        row = data.row(m, i_n, i_d)
        for k, v in values.items():
            shown = data.summary[k][row]
            worst["numbers"] = max(worst["numbers"], abs(shown - v) / max(abs(v), 1.0))
        for key, law in ((f"{m},{i_n},{i_d},phi", phi), (f"{m},{i_n},{i_d},bon", bon), (f"{m},{i_n},p", law_n)):
            x, mass = data.law(key)
            target = x.astype(float) * n
            hi = np.clip(np.searchsorted(law.values, target), 1, len(law) - 1)
            idx = np.where(np.abs(law.values[hi - 1] - target) <= np.abs(law.values[hi] - target), hi - 1, hi)
            idx = idx if len(law) > 1 else np.zeros_like(idx)
            near = np.abs(law.values[idx] - target) <= 1e-5 * max(1.0, n)
            if not near.all():
                return {"numbers": worst["numbers"], "laws": math.inf}
            worst["laws"] = max(worst["laws"], float(np.max(np.abs(mass / law.probs[idx] - 1.0))))
    return worst


def exact_violations(data: ExplorerData) -> dict[str, np.ndarray]:
    """Per summary row (setting), the violation per token of each exact statement the page displays:
    ``"bound"``: ``max(0, D(BoN||p) - (log N - (N-1)/N)) / n``; ``"reward"``: ``max(0, E_BoN r - n kappa'(lambda_delta))
    / n``; ``"identity"``: ``|D(BoN||phi) - (D(BoN||p) - n delta + lambda_delta (E_phi r - E_BoN r))| / n``."""
    s = data.summary
    return {
        "bound": np.maximum(s["d_bon_p"] - s["bound"], 0.0),
        "reward": np.maximum(s["bon_mean"] - s["x_star"], 0.0),
        "identity": np.abs(s["d_bon_phi"] - (s["d_bon_p"] - s["delta"] + s["lam"] * (s["phi_mean"] - s["bon_mean"]))),
    }


def exact_violation(data: ExplorerData) -> float:
    """The largest of :func:`exact_violations` over every grid point and statement, per token."""
    return float(max(v.max() for v in exact_violations(data).values()))


def readout(data: ExplorerData, m: int, i_n: int, i_d: int) -> str:
    """The text line under the controls (the browser's callback writes the same text)."""
    s = data.summary
    k = data.row(m, i_n, i_d)

    def g(v: float) -> str:
        return f"{v:.6g}"

    return (
        f"{data.models[m]}, n = {int(s['n'][k])}, δ = {g(s['delta'][k])} (log N = {g(s['log_n'][k])}): "
        f"E_BoN r/n = {g(s['bon_mean'][k])}, E_φ r/n = {g(s['phi_mean'][k])}, "
        f"D(BoN‖φ)/n = {g(s['d_bon_phi'][k])}, D(BoN‖p)/n = {g(s['d_bon_p'][k])}, "
        f"λ_δ = {g(s['lam'][k])}"
    )


_JS_FORMAT = """
function g(v) {  // like Python's format(v, ".6g")
  if (!isFinite(v)) return String(v);
  if (v === 0) return "0";
  const e = Math.floor(Math.log10(Math.abs(v)));
  let t = (e < -4 || e >= 6) ? v.toExponential(5) : v.toPrecision(6);
  if (t.includes("e")) {
    let [mant, ex] = t.split("e");
    if (mant.includes(".")) mant = mant.replace(/0+$/, "").replace(/\\.$/, "");
    const sign = ex[0] === "-" ? "-" : "+";
    ex = ex.replace(/^[-+]/, "");
    return mant + "e" + sign + (ex.length < 2 ? "0" + ex : ex);
  }
  if (t.includes(".")) t = t.replace(/0+$/, "").replace(/\\.$/, "");
  return t;
}
"""

_JS_UPDATE = (
    _JS_FORMAT
    + """
const m = names.indexOf(model.value);
const L = lengths.length, D = fractions.length;
const i = Math.round(length.value), j = Math.round(budget.value);
const S = summary.data;
const row = (m * L + i) * D + j;
function law(key) {
  const [a, b] = offsets[key];
  return {x: store.data.x.slice(a, b), mass: store.data.mass.slice(a, b)};
}
p.data = law(`${m},${i},p`);
phi.data = law(`${m},${i},${j},phi`);
bon.data = law(`${m},${i},${j},bon`);
const fb = {kl: [], mean: [], delta: []};
for (let jj = 0; jj < D; jj++) {
  const k = (m * L + i) * D + jj;
  fb.kl.push(S.d_bon_p[k]); fb.mean.push(S.bon_mean[k]); fb.delta.push(S.delta[k]);
}
front_bon.data = fb;
const c = curve.data, cc = {kl: [], mean: []};
for (let k = 0; k < c.m.length; k++) if (c.m[k] == m) { cc.kl.push(c.kl[k]); cc.mean.push(c.mean[k]); }
front_curve.data = cc;
front_now.data = {kl: [S.d_bon_p[row], S.delta[row]], mean: [S.bon_mean[row], S.phi_mean[row]],
                  who: ["best-of-N", "optimum"]};
const rt = {n: [], gap: [], d_bon_phi: [], rate_gap: [], rate_kl: []};
for (let ii = 0; ii < L; ii++) {
  const k = (m * L + ii) * D + j;
  rt.n.push(S.n[k]); rt.gap.push(S.gap[k]); rt.d_bon_phi.push(S.d_bon_phi[k]);
  rt.rate_gap.push(S.rate_gap[k]); rt.rate_kl.push(S.rate_kl[k]);
}
rates.data = rt;
rates_now.data = {n: [S.n[row], S.n[row]], value: [S.gap[row], S.d_bon_phi[row]]};
length.title = `length n = ${S.n[row]}`;
budget.title = `budget δ = log N / n = ${S.delta[row].toFixed(3)} (${fractions[j].toFixed(2)} D_max)`;
readout.text = `${names[m]}, n = ${S.n[row]}, δ = ${g(S.delta[row])} (log N = ${g(S.log_n[row])}): ` +
  `E_BoN r/n = ${g(S.bon_mean[row])}, E_φ r/n = ${g(S.phi_mean[row])}, ` +
  `D(BoN‖φ)/n = ${g(S.d_bon_phi[row])}, D(BoN‖p)/n = ${g(S.d_bon_p[row])}, λ_δ = ${g(S.lam[row])}`;
"""
)

_JS_SAMPLES = (
    _JS_FORMAT
    + """
const k = Math.round(slider.value);
const d = samples.data;
now.data = {kl: [d.bon_kl[k]], mean: [d.bon_mean[k]], opt: [d.opt_mean[k]]};
slider.title = `best-of-N on the example reward samples: N = ${d.n[k]}`;
out.text = `N = ${d.n[k]}: D(BoN‖p) = ${g(d.bon_kl[k])} nats (bound log N − (N−1)/N = ${g(d.bound[k])}), ` +
  `E_BoN r = ${g(d.bon_mean[k])}, optimum at that relative entropy: E r = ${g(d.opt_mean[k])}`;
"""
)


def samples_readout(data: ExplorerData, k: int) -> str:
    """The text line of the example reward samples at the ``k``-th ``N``."""
    d = data.samples
    return (
        f"N = {int(d['n'][k])}: D(BoN‖p) = {d['bon_kl'][k]:.6g} nats (bound log N − (N−1)/N = "
        f"{d['bound'][k]:.6g}), E_BoN r = {d['bon_mean'][k]:.6g}, optimum at that relative entropy: "
        f"E r = {d['opt_mean'][k]:.6g}"
    )


def index_slider(count: int, value: int, **kwargs):
    """A Bokeh slider over the indices ``0 .. count - 1`` (lengths, budgets, sample sizes), its value shown in
    its title. Bokeh refuses a slider whose start equals its end, so with a single index the bar spans 0 to 1 and
    is disabled: the one value stays in the title."""
    from bokeh.models import Slider

    return Slider(start=0, end=max(count - 1, 1), step=1, value=value, show_value=False, disabled=count < 2, **kwargs)


def _budget_title(data: ExplorerData, m: int, i_d: int) -> str:
    return f"budget δ = log N / n = {data.deltas[m][i_d]:.3f} ({data.fractions[i_d]:.2f} D_max)"


def explorer_layout(data: ExplorerData, m: int = 0, i_n: int | None = None, i_d: int | None = None):
    """The Bokeh layout: a model selector, sliders over the grid of lengths and budgets, a text line, the three
    laws of the per-token reward, the reward-KL frontier with the best-of-N points, the gaps against ``n`` with the
    theorem's rates, and the example reward samples' frontier with its own slider; all switched in the browser."""
    from bokeh.layouts import column, row
    from bokeh.models import ColumnDataSource, CustomJS, Div, HoverTool, Legend, Select
    from bokeh.plotting import figure

    L, D = len(data.lengths), len(data.fractions)
    i_n = L - 1 if i_n is None else i_n
    i_d = D // 3 if i_d is None else i_d
    width, height = WIDTH, 290
    s = data.summary
    row0 = data.row(m, i_n, i_d)

    def law_source(key: str, name: str) -> ColumnDataSource:
        x, mass = data.law(key)
        return ColumnDataSource({"x": x, "mass": mass}, name=name)

    store = ColumnDataSource({"x": data.law_x, "mass": data.law_mass}, name="explorer_law_store")
    summary = ColumnDataSource({k: v for k, v in s.items()}, name=NAMES["summary"])
    curve = ColumnDataSource(dict(data.curve), name="explorer_curve_store")
    src_p = law_source(f"{m},{i_n},p", NAMES["p"])
    src_phi = law_source(f"{m},{i_n},{i_d},phi", NAMES["phi"])
    src_bon = law_source(f"{m},{i_n},{i_d},bon", NAMES["bon"])
    rows_n = [data.row(m, i_n, j) for j in range(D)]
    front_bon = ColumnDataSource(
        {"kl": s["d_bon_p"][rows_n], "mean": s["bon_mean"][rows_n], "delta": s["delta"][rows_n]},
        name=NAMES["front_bon"],
    )
    mine = data.curve["m"] == m
    front_curve = ColumnDataSource(
        {"kl": data.curve["kl"][mine], "mean": data.curve["mean"][mine]}, name="explorer_frontier_curve"
    )
    front_now = ColumnDataSource(
        {
            "kl": [s["d_bon_p"][row0], s["delta"][row0]],
            "mean": [s["bon_mean"][row0], s["phi_mean"][row0]],
            "who": ["best-of-N", "optimum"],
        },
        name=NAMES["front_now"],
    )
    rows_d = [data.row(m, i, i_d) for i in range(L)]
    rates = ColumnDataSource(
        {k: s[k][rows_d] for k in ("n", "gap", "d_bon_phi", "rate_gap", "rate_kl")}, name=NAMES["rates"]
    )
    rates_now = ColumnDataSource(
        {"n": [s["n"][row0]] * 2, "value": [s["gap"][row0], s["d_bon_phi"][row0]]}, name=NAMES["rates_now"]
    )

    model = Select(
        title="token model", value=data.models[m], options=data.models, name=NAMES["model"], width=MODEL_WIDTH
    )
    # the two sliders one above the other, each with its title over its own bar: side by side they read as one
    # slider with two handles
    slider_width = width - MODEL_WIDTH - CONTROL_GAP
    length = index_slider(L, i_n, title=f"length n = {data.lengths[i_n]}", name=NAMES["length"], width=slider_width)
    budget = index_slider(D, i_d, title=_budget_title(data, m, i_d), name=NAMES["budget"], width=slider_width)
    text = Div(text=readout(data, m, i_n, i_d), name=NAMES["readout"], width=width, disable_math=True)

    laws = figure(
        width=width,
        height=height,
        y_axis_type="log",
        title="exact laws of the per-token reward r/n",
        x_axis_label="per-token reward r/n",
        y_axis_label="probability of the level",
        tools="pan,wheel_zoom,box_zoom,reset,save",
    )
    items = []
    for src, color, label in (
        (src_p, "#7f7f7f", "reference p"),
        (src_phi, "#1f77b4", "optimum φ_nδ"),
        (src_bon, "#d62728", "best-of-e^(nδ)"),
    ):
        line = laws.line("x", "mass", source=src, color=color, line_width=1.5)
        dots = laws.scatter("x", "mass", source=src, color=color, size=4)
        items.append((label, [line, dots]))
        laws.add_tools(
            HoverTool(
                renderers=[dots], tooltips=[("law", label), ("r/n", "@x{0.00000}"), ("probability", "@mass{0.000e+0}")]
            )
        )
    laws.add_layout(Legend(items=items, label_text_font_size="8pt"), "right")

    front = figure(
        width=width,
        height=height,
        title="reward-KL frontier, per token",
        x_axis_label="relative entropy to p per token (nats)",
        y_axis_label="expected reward per token",
        tools="pan,wheel_zoom,box_zoom,reset,save",
    )
    opt_line = front.line("kl", "mean", source=front_curve, color="#1f77b4", line_width=2)
    bon_dots = front.scatter("kl", "mean", source=front_bon, color="#d62728", size=6)
    now_dots = front.scatter("kl", "mean", source=front_now, color="black", size=11, marker="circle_x", fill_alpha=0.0)
    front.add_tools(
        HoverTool(
            renderers=[bon_dots],
            tooltips=[("δ", "@delta{0.0000}"), ("D(BoN‖p)/n", "@kl{0.00000}"), ("E_BoN r/n", "@mean{0.00000}")],
        )
    )
    front.add_tools(
        HoverTool(
            renderers=[now_dots], tooltips=[("", "@who"), ("KL/n", "@kl{0.00000}"), ("reward/n", "@mean{0.00000}")]
        )
    )
    front.add_layout(
        Legend(
            items=[("optimum φ (every n)", [opt_line]), ("best-of-e^(nδ), this n", [bon_dots]), ("this δ", [now_dots])],
            label_text_font_size="8pt",
        ),
        "right",
    )

    gaps = figure(
        width=width,
        height=height,
        x_axis_type="log",
        y_axis_type="log",
        title="gaps per token against n, at this δ",
        x_axis_label="length n",
        y_axis_label="per-token gap",
        tools="pan,wheel_zoom,box_zoom,reset,save",
    )
    g1 = gaps.scatter("n", "gap", source=rates, color="#d62728", size=6)
    g1l = gaps.line("n", "rate_gap", source=rates, color="#d62728", line_dash="dashed")
    g2 = gaps.scatter("n", "d_bon_phi", source=rates, color="#1f77b4", size=6, marker="square")
    g2l = gaps.line("n", "rate_kl", source=rates, color="#1f77b4", line_dash="dashed")
    g3 = gaps.scatter("n", "value", source=rates_now, color="black", size=12, marker="circle_x", fill_alpha=0.0)
    gaps.add_tools(
        HoverTool(
            renderers=[g1, g2],
            tooltips=[
                ("n", "@n"),
                ("κ'(λ_δ) − E_BoN r/n", "@gap{0.000e+0}"),
                ("D(BoN‖φ)/n", "@d_bon_phi{0.000e+0}"),
                ("log n/(2λn)", "@rate_gap{0.000e+0}"),
                ("log n/(2n)", "@rate_kl{0.000e+0}"),
            ],
        )
    )
    gaps.add_layout(
        Legend(
            items=[
                ("κ'(λ_δ) − E_BoN r/n", [g1]),
                ("log n / (2 λ_δ n)", [g1l]),
                ("D(BoN‖φ)/n", [g2]),
                ("log n / (2n)", [g2l]),
                ("this n", [g3]),
            ],
            label_text_font_size="8pt",
        ),
        "right",
    )

    args = dict(
        names=data.models,
        lengths=data.lengths,
        fractions=data.fractions,
        offsets=data.offsets,
        model=model,
        length=length,
        budget=budget,
        summary=summary,
        store=store,
        curve=curve,
        p=src_p,
        phi=src_phi,
        bon=src_bon,
        front_bon=front_bon,
        front_curve=front_curve,
        front_now=front_now,
        rates=rates,
        rates_now=rates_now,
        readout=text,
    )
    update = CustomJS(args=args, code=_JS_UPDATE)
    model.js_on_change("value", update)
    length.js_on_change("value", update)
    budget.js_on_change("value", update)
    controls = row(model, column(length, budget, spacing=CONTROL_GAP // 2), spacing=CONTROL_GAP)
    return column(controls, text, laws, front, gaps, _samples_panel(data, width, height))


def _samples_panel(data: ExplorerData, width: int, height: int):
    """The example reward samples' frontier with a slider over N (or a note when there is no example)."""
    from bokeh.layouts import column
    from bokeh.models import ColumnDataSource, CustomJS, Div, HoverTool, Legend
    from bokeh.plotting import figure

    d = data.samples
    if not d:
        return Div(text="")
    k0 = int(np.searchsorted(d["n"], 16)) if d["n"][-1] >= 16 else 0
    samples = ColumnDataSource(
        {k: d[k] for k in ("n", "bon_kl", "bon_mean", "opt_mean", "bound")}, name="explorer_samples"
    )
    tilt = ColumnDataSource({"kl": d["tilt_kl"], "mean": d["tilt_mean"]}, name="explorer_samples_tilt")
    now = ColumnDataSource(
        {"kl": [d["bon_kl"][k0]], "mean": [d["bon_mean"][k0]], "opt": [d["opt_mean"][k0]]}, name=NAMES["samples_now"]
    )
    slider = index_slider(
        len(d["n"]),
        k0,
        name=NAMES["samples_n"],
        title=f"best-of-N on the example reward samples: N = {int(d['n'][k0])}",
        width=width,
    )
    out = Div(text=samples_readout(data, k0), name=NAMES["samples_readout"], width=width, disable_math=True)
    fig = figure(
        width=width,
        height=height,
        title=f"example reward samples: {int(d['prompts'][0])} prompts, {int(d['count'][0])} rewards",
        x_axis_label="relative entropy to p, average over prompts (nats)",
        y_axis_label="expected reward, average over prompts",
        tools="pan,wheel_zoom,box_zoom,reset,save",
    )
    opt_line = fig.line("kl", "mean", source=tilt, color="#1f77b4", line_width=2)
    dots = fig.scatter("bon_kl", "bon_mean", source=samples, color="#d62728", size=6)
    mark = fig.scatter("kl", "mean", source=now, color="black", size=12, marker="circle_x", fill_alpha=0.0)
    fig.add_tools(
        HoverTool(
            renderers=[dots],
            tooltips=[
                ("N", "@n"),
                ("D(BoN‖p)", "@bon_kl{0.00000}"),
                ("E_BoN r", "@bon_mean{0.00000}"),
                ("optimum at that KL", "@opt_mean{0.00000}"),
            ],
        )
    )
    fig.add_layout(
        Legend(
            items=[("optimum, one λ", [opt_line]), ("best-of-N", [dots]), ("this N", [mark])],
            label_text_font_size="8pt",
        ),
        "right",
    )
    slider.js_on_change(
        "value", CustomJS(args=dict(samples=samples, now=now, slider=slider, out=out), code=_JS_SAMPLES)
    )
    return column(slider, out, fig)


def bokeh_resources():
    """Bokeh's own JavaScript and CSS, inlined (no CDN): only the core and the widgets the page uses."""
    from bokeh.resources import Resources

    return Resources(mode="inline", components=["bokeh", "bokeh-widgets"])


def explorer_html(data: ExplorerData, **kwargs) -> str:
    """The explorer as one HTML fragment for a notebook output: Bokeh's inlined JavaScript and CSS, the plot's
    ``div`` and the script that builds the document (``bokeh.embed.components``). ``kwargs``: the initial setting
    of :func:`explorer_layout`."""
    from bokeh.embed import components

    script, div = components(explorer_layout(data, **kwargs))
    res = bokeh_resources()
    return res.render_css() + res.render_js() + div + script


# -- the static snapshot --------------------------------------------------------------------------------------------
def snapshot_figure(data: ExplorerData, m: int = 0, i_n: int | None = None, i_d: int | None = None):
    """A matplotlib figure of the page's three views of the token models at one setting (the page's default)."""
    import matplotlib.pyplot as plt

    L, D = len(data.lengths), len(data.fractions)
    i_n = L - 1 if i_n is None else i_n
    i_d = D // 3 if i_d is None else i_d
    s = data.summary
    row = data.row(m, i_n, i_d)
    n = data.lengths[i_n]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    for key, color, label in (
        (f"{m},{i_n},p", "0.5", "reference $p$"),
        (f"{m},{i_n},{i_d},phi", "C0", r"optimum $\phi_{n\delta}$"),
        (f"{m},{i_n},{i_d},bon", "C3", r"best-of-$e^{n\delta}$"),
    ):
        x, mass = data.law(key)
        axes[0].semilogy(x, mass, "o-", ms=2.5, lw=1, color=color, label=label)
    axes[0].set(xlabel="per-token reward $r/n$", ylabel="probability of the level", title=f"exact laws, n = {n}")
    axes[0].legend(fontsize="small")
    mine = data.curve["m"] == m
    axes[1].plot(data.curve["kl"][mine], data.curve["mean"][mine], color="C0", label=r"optimum $\phi$")
    rows_n = [data.row(m, i_n, j) for j in range(D)]
    axes[1].plot(s["d_bon_p"][rows_n], s["bon_mean"][rows_n], "o", color="C3", ms=4, label=f"best-of-N, n = {n}")
    axes[1].set(
        xlabel="relative entropy to $p$ per token", ylabel="expected reward per token", title="reward-KL frontier"
    )
    axes[1].legend(fontsize="small")
    rows_d = [data.row(m, i, i_d) for i in range(L)]
    ns = s["n"][rows_d]
    axes[2].loglog(ns, s["gap"][rows_d], "o", color="C3", ms=4, label=r"$\kappa'(\lambda_\delta) - E_{BoN}\,r/n$")
    axes[2].loglog(ns, s["rate_gap"][rows_d], "--", color="C3", lw=1, label=r"$\log n / (2\lambda_\delta n)$")
    axes[2].loglog(ns, s["d_bon_phi"][rows_d], "s", color="C0", ms=4, label=r"$D(BoN\|\phi)/n$")
    axes[2].loglog(ns, s["rate_kl"][rows_d], "--", color="C0", lw=1, label=r"$\log n / (2n)$")
    axes[2].set(xlabel="length n", ylabel="per-token gap", title=rf"gaps, $\delta$ = {s['delta'][row]:.3f}")
    axes[2].legend(fontsize="small")
    fig.tight_layout()
    return fig
