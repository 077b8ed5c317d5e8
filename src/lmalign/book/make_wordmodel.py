"""Regenerate the English word model shipped in ``lmalign/data/wordmodel/`` from its pinned sources.

``make data`` installs ``wordfreq`` and ``vaderSentiment`` at the versions of ``requirements-data.txt`` and runs
``python -m lmalign.book.make_wordmodel``; the output is byte for byte the shipped files (CI checks it).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from importlib import metadata as importlib_metadata
from pathlib import Path

from lmalign.book import paths
from lmalign.wordmodel import HEADER, METADATA_FILE, WORDS_FILE, _sha256, default_dir, load_word_model

DEFAULT_TOP = 5000  # about 85% of the frequency mass of English text; 762 of the words carry a valence
LANGUAGE = "en"
WORDLIST = "best"


def data_requirements() -> dict[str, str]:
    """``{package: version}`` pinned in ``requirements-data.txt`` at the repository root."""
    out = {}
    for line in (paths.repo_root() / "requirements-data.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            out[name.strip()] = version.strip()
    return out


def extract(top: int = DEFAULT_TOP) -> tuple[list[str], list[float], list[float]]:
    """The ``top`` most frequent English words of wordfreq with their frequencies and VADER valences (0 if absent).
    Needs the two packages at the versions of ``requirements-data.txt``."""
    pins = data_requirements()
    for name, version in pins.items():
        try:
            installed = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            raise RuntimeError(f"{name} is not installed; run `make data` (it installs {name}=={version})") from None
        if installed != version:
            raise RuntimeError(
                f"{name} {installed} is installed but the word model is pinned to {version}; run `make data`"
            )
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
    from wordfreq import top_n_list, word_frequency

    lexicon = SentimentIntensityAnalyzer().lexicon
    words = top_n_list(LANGUAGE, top, wordlist=WORDLIST)
    return (
        words,
        [word_frequency(w, LANGUAGE, wordlist=WORDLIST) for w in words],
        [float(lexicon.get(w, 0.0)) for w in words],
    )


def write_word_model(directory: str | Path | None = None, top: int = DEFAULT_TOP) -> Path:
    """Extract the vocabulary and write ``words.csv`` (fixed formatting, so the bytes are reproducible) and
    ``metadata.json`` (sources, versions, counts, SHA-256)."""
    if not isinstance(top, int) or top < 2:
        raise ValueError(f"top must be an integer >= 2, got {top!r}")
    directory = Path(directory) if directory is not None else default_dir()
    words, freq, val = extract(top)
    for w in words:
        if "," in w or "\n" in w:
            raise ValueError(f"word {w!r} contains a comma or a newline and cannot be written unquoted")
    body = "".join(f"{i},{w},{f!r},{v:.1f}\n" for i, (w, f, v) in enumerate(zip(words, freq, val, strict=True), 1))
    data = (HEADER + "\n" + body).encode("utf-8")
    meta = {
        "description": "Top English words of wordfreq with VADER mean valences (0 for words not in the lexicon)",
        "language": LANGUAGE,
        "wordlist": WORDLIST,
        "top": top,
        "frequency_mass": math.fsum(freq),
        "words_with_valence": sum(1 for v in val if v != 0.0),
        "packages": data_requirements(),
        "command": f"python -m lmalign.book.make_wordmodel --top {top}",
        "sha256": _sha256(data),
        "licenses": {"wordfreq data": "CC BY-SA 4.0", "wordfreq code": "Apache-2.0", "vaderSentiment": "MIT"},
    }
    directory.mkdir(parents=True, exist_ok=True)
    (directory / WORDS_FILE).write_bytes(data)
    (directory / METADATA_FILE).write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return directory


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m lmalign.book.make_wordmodel",
        description="Regenerate the English word model (wordfreq + VADER) of lmalign/data/wordmodel/.",
    )
    p.add_argument("--top", type=int, default=DEFAULT_TOP, help=f"number of words (default {DEFAULT_TOP})")
    p.add_argument("--out", default=None, help="output folder (default: the package's data/wordmodel)")
    args = p.parse_args(sys.argv[1:] if argv is None else argv)
    try:
        out = write_word_model(args.out, args.top)
    except (RuntimeError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    model = load_word_model(out)
    print(
        f"wrote {out / WORDS_FILE}: {len(model.words)} words, {model.metadata['words_with_valence']} with a "
        f"valence, {model.metadata['frequency_mass']:.4f} of the frequency mass"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
