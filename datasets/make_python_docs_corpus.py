"""Rebuild python-docs.jsonl.gz: passages of the Python documentation's help topics.

The text is pydoc's topic help (``pydoc_data.topics``), part of CPython's documentation
(PSF License). Paragraphs are kept whole up to 60 words; longer ones are cut at sentence
ends into passages of at most ~60 words. Run: ``python datasets/make_python_docs_corpus.py``.
"""

import gzip
import json
import re
from pathlib import Path

import pydoc_data.topics

MAX_WORDS = 60


def passages(text: str):
    for paragraph in re.split(r"\n\s*\n", text):
        paragraph = " ".join(paragraph.split())
        if len(paragraph.split()) < 6:
            continue
        current: list[str] = []
        for sentence in re.split(r"(?<=[.!?])\s+(?=[A-Z])", paragraph):
            if current and len(" ".join(current + [sentence]).split()) > MAX_WORDS:
                yield " ".join(current)
                current = []
            current.append(sentence)
        if current:
            yield " ".join(current)


def main() -> None:
    lines = [
        json.dumps({"topic": topic, "text": passage}, ensure_ascii=False)
        for topic, text in sorted(pydoc_data.topics.topics.items())
        for passage in passages(text)
        if len(passage.split()) >= 6
    ]
    target = Path(__file__).with_name("python-docs.jsonl.gz")
    # mtime=0 keeps the file byte-identical between rebuilds.
    target.write_bytes(gzip.compress("\n".join(lines).encode("utf-8"), compresslevel=9, mtime=0))
    print(f"{target}: {len(lines)} passages")


if __name__ == "__main__":
    main()
