"""The Explorer page in a real browser with no network: moving a control changes the plot and the numbers to the
values the library gives for the new setting.

Uses Debian's ``chromium`` and ``chromium-driver`` with networking off, as ``test_browser.py`` does: only files
inside the built book can load, so Bokeh must come from the page itself.
"""

import math
import re
import shutil

import numpy as np
import pytest

from lmalign import RewardLaw, best_of_n, kl_constrained

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium")
DRIVER = shutil.which("chromedriver")

if not (CHROMIUM and DRIVER):
    pytest.skip(
        "needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)",
        allow_module_level=True,
    )

from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

# the quick parameters of notebooks/15_explorer.md (three-letter model first; budgets as fractions of D_max)
MODEL3 = ([0.5, 0.3, 0.2], [0.0, 1.0, 2.0])
QUICK_LENGTHS = [1, 10, 100, 1000]
QUICK_FRACTIONS = [0.1, 0.3, 0.6]

READY = """
const done = arguments[arguments.length - 1];
const t0 = Date.now();
(function poll() {
  const doc = window.Bokeh && Bokeh.documents && Bokeh.documents[0];
  if (doc && doc.get_model_by_name('explorer_readout')) { done(true); return; }
  if (Date.now() - t0 > 30000) { done(false); return; }
  setTimeout(poll, 100);
})();
"""
STATE = """
const doc = Bokeh.documents[0], get = name => doc.get_model_by_name(name);
const bon = get('explorer_law_bon').data, now = get('explorer_frontier_now').data;
return {text: get('explorer_readout').text, bon_x: Array.from(bon.x), bon_mass: Array.from(bon.mass),
        now_kl: Array.from(now.kl), now_mean: Array.from(now.mean),
        title: get('explorer_length').title,
        rendered: document.querySelectorAll('.bk-Figure, .bk-Column, .bk-Row').length};
"""


@pytest.fixture(scope="module")
def explorer_page(quick_book):
    return quick_book.html / "notebooks" / "15_explorer.html"


def library_values(n: int, fraction: float) -> dict:
    """The numbers of the three-letter model at length ``n`` and budget ``fraction * D_max``, straight from the
    library (not from the book's explorer module)."""
    p, r = MODEL3
    delta = fraction * RewardLaw(r, p).max_kl
    law = RewardLaw.from_tokens(p, r, n)
    sol = kl_constrained(law, n * delta)
    phi = law.tilt(sol.lam)
    bon = best_of_n(law, log_n=n * delta)
    return {
        "n": n,
        "delta": delta,
        "bon_mean": bon.mean() / n,
        "phi_mean": phi.mean() / n,
        "d_bon_phi": bon.kl(phi) / n,
        "d_bon_p": bon.kl(law) / n,
        "lam": sol.lam,
        "bon": bon,
    }


NUMBER = r"([-+]?\d[\d.]*(?:e[-+]?\d+)?)"


def parse_readout(text: str) -> dict:
    """The numbers of the text line ``..., n = 10, δ = 0.48 (log N = 4.8): E_BoN r/n = ..., λ_δ = ...``."""
    fields = {
        "n": r"n = ",
        "delta": r"δ = ",
        "bon_mean": r"E_BoN r/n = ",
        "phi_mean": r"E_φ r/n = ",
        "d_bon_phi": r"D\(BoN‖φ\)/n = ",
        "d_bon_p": r"D\(BoN‖p\)/n = ",
        "lam": r"λ_δ = ",
    }
    out = {}
    for key, prefix in fields.items():
        found = re.search(prefix + NUMBER, text)
        assert found, f"{key} missing from the text line {text!r}"
        out[key] = float(found.group(1))
    return out


def agrees(shown: float, exact: float) -> bool:
    """``shown`` is ``exact`` rounded to the six significant digits of the text line."""
    if exact == 0:
        return shown == 0
    half_unit = 0.5 * 10.0 ** (math.floor(math.log10(abs(exact))) - 5)
    return abs(shown - exact) <= half_unit * (1 + 1e-9)


def assert_shows(state: dict, expected: dict) -> None:
    shown = parse_readout(state["text"])
    for key in ("delta", "bon_mean", "phi_mean", "d_bon_phi", "d_bon_p", "lam"):
        assert agrees(shown[key], expected[key]), (key, shown[key], expected[key], state["text"])
    assert shown["n"] == expected["n"]
    # the plotted best-of-N law: every point is a level of the library's law with its probability
    bon = expected["bon"]
    x = np.array(state["bon_x"]) * expected["n"]
    idx = np.abs(bon.values[None, :] - x[:, None]).argmin(axis=1)
    assert np.allclose(bon.values[idx], x, atol=1e-4)
    assert np.allclose(np.array(state["bon_mass"]), bon.probs[idx], rtol=1e-6)
    assert np.argmax(bon.probs) in idx  # the most likely level is shown
    # the frontier's marks: best-of-N and the optimum at this setting
    assert np.allclose(state["now_kl"], [expected["d_bon_p"], expected["delta"]], rtol=1e-9)
    assert np.allclose(state["now_mean"], [expected["bon_mean"], expected["phi_mean"]], rtol=1e-9)


def set_value(browser, name: str, value) -> dict:
    browser.execute_script("Bokeh.documents[0].get_model_by_name(arguments[0]).value = arguments[1];", name, value)
    return browser.execute_script(STATE)


def test_explorer_controls_change_plot_and_numbers(browser, explorer_page):
    browser.get(explorer_page.as_uri())
    assert browser.execute_async_script(READY), "the Bokeh document did not load (offline)"
    scripts = browser.execute_script("return [...document.scripts].map(s => s.src).filter(s => s)")
    assert not [s for s in scripts if s.startswith("http")], "a script would need the network"
    before = browser.execute_script(STATE)
    WebDriverWait(browser, 30).until(lambda b: b.execute_script(STATE)["rendered"] > 0)
    assert_shows(before, library_values(QUICK_LENGTHS[-1], QUICK_FRACTIONS[1]))  # the default setting

    after = set_value(browser, "explorer_length", 1)  # n = 10
    assert after["text"] != before["text"] and after["bon_x"] != before["bon_x"]
    assert "n = 10" in after["title"]
    assert_shows(after, library_values(QUICK_LENGTHS[1], QUICK_FRACTIONS[1]))

    moved = set_value(browser, "explorer_budget", 2)  # delta = 0.6 D_max
    assert moved["text"] != after["text"]
    assert_shows(moved, library_values(QUICK_LENGTHS[1], QUICK_FRACTIONS[2]))

    other = set_value(browser, "explorer_model", "ten-token")
    assert other["text"].startswith("ten-token") and other["bon_x"] != moved["bon_x"]


def test_explorer_samples_slider(browser, explorer_page):
    from lmalign.frontier import example_file, frontier
    from lmalign.frontier.files import read_samples

    browser.get(explorer_page.as_uri())
    assert browser.execute_async_script(READY)
    get = "return Bokeh.documents[0].get_model_by_name(arguments[0])"
    browser.execute_script(get.replace("return ", "") + ".value = 3;", "explorer_samples_n")
    text = browser.execute_script(get + ".text", "explorer_samples_readout")
    samples = read_samples(example_file(), column="reward", group="prompt_id")
    n = int(re.match(r"N = (\d+):", text).group(1))
    fr = frontier(samples.rewards, groups=samples.groups, n=[n], max_n=n, progress=False)
    shown = [float(v) for v in re.findall(r"= " + NUMBER, text)[1:]]
    assert n == 4
    exact = [fr.bon_kl[0], fr.bound[0], fr.bon_mean[0], fr.opt_mean[0]]
    assert len(shown) == 4 and all(agrees(a, b) for a, b in zip(shown, exact, strict=True)), (text, exact)


def test_explorer_length_and_budget_are_two_sliders(browser, explorer_page):
    """The length and budget sliders sit one above the other, each with its title over its own bar (side by side
    they read as one slider with two handles): their boxes do not overlap vertically."""
    browser.get(explorer_page.as_uri())
    assert browser.execute_async_script(READY)
    WebDriverWait(browser, 30).until(lambda b: b.execute_script(STATE)["rendered"] > 0)
    boxes = browser.execute_script("""
        const doc = Bokeh.documents[0];
        return ['explorer_length', 'explorer_budget'].map(name => {
          const view = Bokeh.index.get_one(doc.get_model_by_name(name));
          const r = view.el.getBoundingClientRect();
          return {top: r.top, bottom: r.bottom, left: r.left, width: r.width};
        });""")
    length, budget = boxes
    assert length["width"] > 0 and budget["width"] > 0
    assert budget["top"] >= length["bottom"], boxes
    assert abs(budget["left"] - length["left"]) < 1, boxes
