"""A memoryless English word model with a sentiment reward, from real data.

The vocabulary is the ``top`` most frequent English words of the ``wordfreq`` package (its ``best`` wordlist),
with their frequencies renormalised to a probability law ``p``; the reward of a word is its mean valence in the
VADER sentiment lexicon (``vaderSentiment`` package), 0 for a word not in the lexicon. The reward of a "sentence"
of ``n`` words drawn i.i.d. from ``p`` is the sum of its words' valences: a memoryless model with a linear reward.

The extracted vocabulary is committed under ``data/wordmodel/`` (``words.csv`` and ``metadata.json`` with the
package versions and the file's SHA-256), so the book needs neither package. Regenerate it with ``make data``,
which installs the versions pinned in ``requirements-data.txt`` and runs ``python -m lmalign.wordmodel``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
from dataclasses import dataclass
from importlib import metadata as importlib_metadata
from pathlib import Path

import numpy as np

from lmalign import paths

DEFAULT_TOP = 5000  # about 85% of the frequency mass of English text; 762 of the words carry a valence
LANGUAGE = "en"
WORDLIST = "best"
WORDS_FILE = "words.csv"
METADATA_FILE = "metadata.json"
HEADER = "rank,word,frequency,valence"


def data_requirements() -> dict[str, str]:
    """``{package: version}`` pinned in ``requirements-data.txt`` at the repository root."""
    out = {}
    for line in (paths.repo_root() / "requirements-data.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            out[name.strip()] = version.strip()
    return out


def default_dir() -> Path:
    return paths.data_dir() / "wordmodel"


@dataclass(frozen=True)
class WordModel:
    """Words (by decreasing frequency), their wordfreq frequencies, ``probs`` (renormalised frequencies) and
    VADER valences; ``metadata`` as recorded beside the CSV."""

    words: tuple[str, ...]
    frequency: np.ndarray
    probs: np.ndarray
    valence: np.ndarray
    metadata: dict


class WordModelError(ValueError):
    """The committed word model is missing or does not match its recorded checksum."""


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def load_word_model(directory: str | Path | None = None) -> WordModel:
    """Read ``words.csv``, check its SHA-256 against ``metadata.json``, renormalise the frequencies:
    ``p(w) = f(w) / sum_v f(v)``."""
    directory = Path(directory) if directory is not None else default_dir()
    words_path, meta_path = directory / WORDS_FILE, directory / METADATA_FILE
    for path in (words_path, meta_path):
        if not path.is_file():
            raise WordModelError(f"{path} is missing; regenerate the word model with `make data`")
    raw = words_path.read_bytes()
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    if _sha256(raw) != meta.get("sha256"):
        raise WordModelError(f"{words_path} does not match the SHA-256 recorded in {meta_path} "
                             f"({_sha256(raw)[:12]}... vs {str(meta.get('sha256'))[:12]}...); "
                             "restore it or regenerate both with `make data`")
    lines = raw.decode("utf-8").splitlines()
    if not lines or lines[0] != HEADER:
        raise WordModelError(f"{words_path}: the header must be {HEADER!r}")
    words, freq, val = [], [], []
    for lineno, line in enumerate(lines[1:], start=2):
        fields = line.split(",")
        if len(fields) != 4:
            raise WordModelError(f"{words_path}, line {lineno}: expected 4 fields, got {len(fields)}")
        _, word, f, v = fields
        words.append(word)
        freq.append(float(f))
        val.append(float(v))
    frequency = np.asarray(freq)
    probs = frequency / math.fsum(freq)
    return WordModel(words=tuple(words), frequency=frequency, probs=probs, valence=np.asarray(val), metadata=meta)


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
            raise RuntimeError(f"{name} {installed} is installed but the word model is pinned to {version}; "
                               "run `make data`")
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
    from wordfreq import top_n_list, word_frequency

    lexicon = SentimentIntensityAnalyzer().lexicon
    words = top_n_list(LANGUAGE, top, wordlist=WORDLIST)
    return words, [word_frequency(w, LANGUAGE, wordlist=WORDLIST) for w in words], \
        [float(lexicon.get(w, 0.0)) for w in words]


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
        "language": LANGUAGE, "wordlist": WORDLIST, "top": top,
        "frequency_mass": math.fsum(freq), "words_with_valence": sum(1 for v in val if v != 0.0),
        "packages": data_requirements(),
        "command": f"python -m lmalign.wordmodel --top {top}",
        "sha256": _sha256(data),
        "licenses": {"wordfreq data": "CC BY-SA 4.0", "wordfreq code": "Apache-2.0", "vaderSentiment": "MIT"},
    }
    directory.mkdir(parents=True, exist_ok=True)
    (directory / WORDS_FILE).write_bytes(data)
    (directory / METADATA_FILE).write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return directory


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m lmalign.wordmodel",
                                description="Regenerate the English word model (wordfreq + VADER) under data/.")
    p.add_argument("--top", type=int, default=DEFAULT_TOP, help=f"number of words (default {DEFAULT_TOP})")
    p.add_argument("--out", default=None, help="output folder (default data/wordmodel)")
    args = p.parse_args(sys.argv[1:] if argv is None else argv)
    try:
        out = write_word_model(args.out, args.top)
    except (RuntimeError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    model = load_word_model(out)
    print(f"wrote {out / WORDS_FILE}: {len(model.words)} words, {model.metadata['words_with_valence']} with a "
          f"valence, {model.metadata['frequency_mass']:.4f} of the frequency mass")
    return 0


if __name__ == "__main__":
    sys.exit(main())
