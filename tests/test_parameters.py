"""The range grammar of the ``parameters`` cells: parsed without running the cell, values outside refused in one
line, draws inside the range and reproducible."""

import random
from pathlib import Path

import pytest

from lmalign import models
from lmalign.book import parameters as P
from lmalign.book.chapter import Chapter

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.md"))


@pytest.mark.parametrize(
    "text, inside, outside",
    [
        ("int in [0, 2**32)", [0, 2**32 - 1], [-1, 2**32, 1.0, True]),
        ("float in (0, 1]", [1, 0.5, 1e-300], [0, 1.5, float("nan"), "0.5"]),
        ("float in log[1e-3, 10]", [1e-3, 10.0], [0.0, 11.0]),
        ("int in {1, 2, 4}", [1, 4], [3, 1.0]),
        ("str in {'a', 'b'}", ["a"], ["c", 1]),
        ("bool", [True, False], [0, "true"]),
        ("list of float in (0, 1), len in [1, 3]", [[0.5], [0.1, 0.2, 0.3]], [[], [0.1] * 4, [1.0], 0.5]),
        ("list of int in [1, 9], increasing", [[1, 2, 9]], [[2, 2], [3, 1]]),
        ("list of float in [0, 4], step 0.5, nonconstant", [[0, 0.5, 4]], [[0, 0.25], [1.0, 1.0]]),
        ("probability vector, positive", [[0.5, 0.5], [1.0]], [[0.5, 0.6], [1.0, 0.0], [-0.5, 1.5]]),
        ("probability vector", [[1.0, 0.0]], [[0.9, 0.2]]),
        (
            "stochastic matrix, primitive",
            [[[0.5, 0.5], [1.0, 0.0]]],
            [[[0, 1], [1, 0]], [[1.0, 0.0], [0.0, 1.0]], [[0.5, 0.5]], [[0.5, 0.6], [1, 0]]],
        ),
    ],
)
def test_inside_passes_outside_is_refused(text, inside, outside):
    spec = P.parse_spec(text)
    for value in inside:
        assert P.problem(value, spec) == "", (text, value)
        P.validate({"x": value}, {"x": spec})
    for value in outside:
        assert P.problem(value, spec), (text, value)
        with pytest.raises(P.ParameterError) as err:
            P.validate({"x": value}, {"x": spec})
        message = str(err.value)
        assert message.startswith("parameter 'x' = ") and text in message and "\n" not in message


def test_a_period_hidden_in_the_pattern_is_not_primitive():
    # irreducible with period 3 (a cycle): no power is positive; adding one self-loop makes it primitive
    cycle = [[0, 1, 0], [0, 0, 1], [1, 0, 0]]
    spec = P.parse_spec("stochastic matrix, primitive")
    assert "primitive" in P.problem(cycle, spec)
    assert P.problem([[0.5, 0.5, 0], [0, 0, 1], [1, 0, 0]], spec) == ""


def test_equal_lengths():
    specs = {"p": P.parse_spec("probability vector"), "r": P.parse_spec("list of float in [0, 1], len = p")}
    P.validate({"p": [0.5, 0.5], "r": [0.0, 1.0]}, specs)
    with pytest.raises(P.ParameterError, match="differs from that of p"):
        P.validate({"p": [0.5, 0.5], "r": [0.0]}, specs)


@pytest.mark.parametrize(
    "text",
    [
        "int in [1, 0]",
        "float in log[0, 1]",
        "float in [0, 1], wobbly",
        "complex in [0, 1]",
        "float in [0, __import__('os')]",
        "int in [0, 10**10**10]",
    ],
)
def test_malformed_ranges_are_errors(text):
    with pytest.raises((ValueError, SyntaxError)):
        P.parse_spec(text)


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_every_parameter_of_every_chapter_has_a_range_holding_its_default(chapter):
    found = P.read(ROOT / "notebooks" / f"{chapter}.md")
    assert found and all(spec is not None for _, spec in found.values()), chapter
    defaults = {name: value for name, (value, _) in found.items()}
    P.validate(defaults, {name: spec for name, (_, spec) in found.items()})


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_draws_are_inside_and_reproducible(chapter):
    specs = {name: spec for name, (_, spec) in P.read(ROOT / "notebooks" / f"{chapter}.md").items()}
    for seed in range(30):
        a, b = P.draw(specs, random.Random(seed)), P.draw(specs, random.Random(seed))
        assert a == b
        for name, spec in specs.items():  # an independent look at each drawn value
            assert P.problem(a[name], spec, a) == "", (chapter, name, a[name])


def test_draws_cover_the_range():
    spec = P.parse_spec("float in log[1e-3, 1e3]")
    xs = [P.draw_one(spec, random.Random(s), {}) for s in range(400)]
    assert min(xs) < 1e-2 and max(xs) > 1e2 and sum(x < 1 for x in xs) in range(150, 251)
    ints = {P.draw_one(P.parse_spec("int in [2, 5]"), random.Random(s), {}) for s in range(200)}
    assert ints == {2, 3, 4, 5}


def test_the_chapter_constructor_refuses_a_value_outside(tmp_path):
    with pytest.raises(P.ParameterError, match=r"parameter 'levels' = 99 is outside its range: int in \[2, 8\]"):
        Chapter("00_pipeline", parameters={"levels": 99}, output_dir=tmp_path)
    Chapter("00_pipeline", parameters={"levels": 3}, output_dir=tmp_path)


RUNNING_EXAMPLES = {
    "model3_p": models.THREE_LETTER_P,
    "model3_r": models.THREE_LETTER_R,
    "model10_p": models.TEN_TOKEN_P,
    "model10_r": models.TEN_TOKEN_R,
}


def test_the_running_examples_are_the_librarys_in_every_chapter():
    """A chapter restating the three-letter or ten-token model in its parameters cell restates
    ``lmalign.models``' values, so the examples agree across chapters."""
    seen = 0
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.md")):
        found = P.read(path)
        for name, expected in RUNNING_EXAMPLES.items():
            if name in found:
                seen += 1
                assert tuple(found[name][0]) == expected, (path.stem, name)
    assert seen >= 8  # chapters 4, 5, 6 and 15 state both models


@pytest.mark.parametrize("text", ["int in [3, 100], step 7", "list of int in [10, 2e4], step 10, len in [1, 5]"])
def test_integers_on_a_step_are_drawn_on_it(text):
    spec = P.parse_spec(text)
    for seed in range(50):
        value = P.draw_one(spec, random.Random(seed), {})
        assert P.problem(value, spec) == "", (text, value)
