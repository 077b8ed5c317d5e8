"""Exercises: labelled, with folded solutions, 2 to 4 per chapter that has them; every number a solution states is
the one its chapter checks (``STATED``), and it is right (recomputed in 30-digit arithmetic by
``tests/exercise_values``, independently of the chapter and the library), so changing a number in the text fails."""

import ast
import re
from pathlib import Path

import exercise_values
import pytest

from lmalign.book import claims, exercise_index

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.md") if "```{exercise}" in p.read_text())


def _blocks(text: str, directive: str) -> list[tuple[str, str]]:
    """(argument, body) of every ```{directive} block of a MyST text."""
    return re.findall(r"```\{" + directive + r"\} ([^\n]+)\n(.*?)\n```", text, flags=re.DOTALL)


def _stated(text: str) -> dict:
    """The chapter's ``STATED = {...}`` literal, read without running the chapter."""
    for cell in re.findall(r"```\{code-cell\} ipython3\n(.*?)```", text, flags=re.DOTALL):
        body = cell.split("\n\n", 1)[1] if cell.startswith(":tags:") else cell
        for node in ast.parse(body).body:
            if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "STATED":
                return ast.literal_eval(node.value)
    raise AssertionError("no STATED")


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_exercises_are_labelled_with_folded_solutions(chapter):
    text = (ROOT / "notebooks" / f"{chapter}.md").read_text()
    exercises, solutions = _blocks(text, "exercise"), _blocks(text, "solution")
    assert 2 <= len(exercises) <= 4 and len(solutions) == len(exercises)
    for (title, body), (target, sol) in zip(exercises, solutions, strict=True):
        label = re.search(r":label: (ex-\S+)", body).group(1)
        assert title.strip() and target.strip() == label and ":class: dropdown" in sol and "Difficulty: ★" in body


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_stated_numbers_are_in_the_solutions_checked_and_right(chapter):
    text = (ROOT / "notebooks" / f"{chapter}.md").read_text()
    stated, solutions = _stated(text), _blocks(text, "solution")
    exact = exercise_values.exact(int(chapter[:2]))
    registry = claims.load_registry()
    for ex_id, values in stated.items():
        assert registry[ex_id].chapter == chapter
        number = int(ex_id.split(".")[1])
        solution = solutions[number - 1][1]
        for name, shown in values.items():
            assert shown in solution, f"{ex_id}: the solution does not state {name} = {shown}"
            half_unit = 0.5 * 10.0 ** -len(shown.split(".")[1])
            assert abs(float(shown) - float(exact[ex_id][name])) <= half_unit, (ex_id, name, shown)
    # every number with four decimals in a solution is one of the checked ones
    for _, solution in solutions:
        for shown in re.findall(r"\d+\.\d{4}\b", solution):
            assert any(shown in v.values() for v in stated.values()), shown


def test_the_index_lists_every_exercise_with_its_number_and_difficulty():
    page = exercise_index.index_markdown(ROOT)
    for chapter in CHAPTERS:
        text = (ROOT / "notebooks" / f"{chapter}.md").read_text()
        labels = re.findall(r"```\{exercise\}[^\n]*\n:label: (\S+)", text)
        assert len(labels) == text.count("```{exercise}")
        for k, label in enumerate(labels, 1):
            row = next(line for line in page.splitlines() if f"<{label}>`" in line and line.startswith("|"))
            assert f"`{int(chapter[:2])}.{k} " in row, row
            body = text.split(f":label: {label}\n", 1)[1].split("```", 1)[0]
            stars = re.search(r"Difficulty: (★+)\)", body).group(1)
            assert f"| {stars} |" in row, (label, row)
    assert (
        f"end with {sum(len(exercise_index.chapter_exercises(ROOT / 'notebooks' / f'{c}.md')) for c in CHAPTERS)}"
        in page
    )


@pytest.mark.parametrize(
    ("body", "problem"),
    [("Compute x. (Difficulty: ★)\n", "no :label:"), (":label: ex-99-x\n\nCompute x.\n", "no difficulty")],
)
def test_an_exercise_without_label_or_difficulty_is_named(tmp_path, body, problem):
    page = tmp_path / "99_x.md"
    page.write_text(f"# T\n\n```{{exercise}} A title\n{body}```\n")
    with pytest.raises(ValueError, match=problem):
        exercise_index.chapter_exercises(page)


def test_parts_one_and_two_and_the_markov_chapter_end_with_exercises():
    """Chapters 1 to 12 (the paper's results, the related results and sources with memory) each end with two to
    four exercises; the others have none."""
    counts = {
        p.stem: p.read_text().count("```{exercise}") for p in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.md"))
    }
    assert {c for c, k in counts.items() if k} == {c for c in counts if 1 <= int(c[:2]) <= 12}
    assert all(2 <= k <= 4 for k in counts.values() if k), counts
