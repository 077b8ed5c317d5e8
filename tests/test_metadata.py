"""One version, one repository URL: the package, pyproject, CITATION.cff, the changelog and the book agree."""

import re
import tomllib
from pathlib import Path

import yaml

import lmalign

ROOT = Path(__file__).resolve().parents[1]


def test_version_is_single_sourced():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in pyproject["project"] and "version" in pyproject["project"]["dynamic"]
    assert pyproject["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "lmalign.__version__"}
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert cff["version"] == lmalign.__version__
    assert re.search(rf"^## {re.escape(lmalign.__version__)} ", (ROOT / "CHANGELOG.md").read_text(), re.MULTILINE)


def test_one_repository_url():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    url = config["repository"]["url"]
    assert url.startswith("https://")
    assert cff["repository-code"] == cff["url"] == url
    assert set(pyproject["project"]["urls"].values()) == {url}


def test_citation_has_a_year_and_the_paper():
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert re.fullmatch(r"\d{4}-\d\d-\d\d", str(cff["date-released"]))
    assert cff["preferred-citation"]["year"] == 2024
    assert "2404.01730" in str(cff["preferred-citation"]["identifiers"])


def test_the_cite_page_matches_citation_cff():
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    page = (ROOT / "book" / "cite.md").read_text()
    assert f"version = {{{cff['version']}}}" in page and cff["url"] in page
    assert f"year    = {{{str(cff['date-released'])[:4]}}}" in page
    for author in cff["preferred-citation"]["authors"]:
        assert author["family-names"] in page


def test_every_shipped_data_file_is_package_data():
    """Each file under src/lmalign/data (the claims registry, the example rewards, the word model) matches a
    package-data pattern, so that an installed package, not only a clone, has it."""
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["lmalign"]
    package = ROOT / "src" / "lmalign"
    files = [
        p.relative_to(package) for p in (package / "data").rglob("*") if p.is_file() and "__pycache__" not in p.parts
    ]
    assert {"data/claims.yml", "data/example_rewards.csv"} <= {f.as_posix() for f in files}
    unshipped = [f.as_posix() for f in files if not any(f.match(pattern) for pattern in patterns)]
    assert unshipped == []
