"""Every ```python block of README.md and docs/*.md runs as written.

Each block runs on its own (a fresh namespace, in a fresh temporary working directory), top
to bottom, exactly as a reader would paste it. A block may carry markers, as full-line
comments anywhere in it, which the reader sees too:

``# requires: server``
    the test starts ``python -m toolkit serve`` on a free port and points the block's
    ``127.0.0.1:5080`` at it (the port the README uses);
``# requires: <module>`` (comma-separated with the above)
    the block is skipped, with the reason shown, when that module cannot be imported;
``# continued``
    the block runs in the namespace (and working directory) left by the previous python
    block of the same file, for prose that splits one session over several blocks;
``# skip: <reason>``
    the block is not run; the reason appears in the test report. Use it rarely.

A new README section needs nothing else: its blocks are found and run by this test.
"""

from __future__ import annotations

import importlib.util
import re
import socket
import subprocess
import types
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```python[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
MARKER = re.compile(r"^[ \t]*#[ \t]*(requires|continued|skip)\b:?[ \t]*(.*)$", re.MULTILINE)
README_PORT = "127.0.0.1:5080"


@dataclass(frozen=True)
class Block:
    document: Path
    line: int
    code: str

    @property
    def name(self) -> str:
        return f"{self.document.name}:{self.line}"

    def markers(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for key, value in MARKER.findall(self.code):
            out.setdefault(key, []).extend(v.strip() for v in value.split(",") if v.strip())
        return out


def blocks() -> list[Block]:
    found = []
    for document in DOCUMENTS:
        text = document.read_text(encoding="utf-8")
        for match in FENCE.finditer(text):
            found.append(Block(document, text.count("\n", 0, match.start()) + 1, match.group(1)))
    return found


BLOCKS = blocks()
_sessions: dict[Path, tuple[dict[str, Any], Path]] = {}  # per document: the last block's namespace and folder


def test_the_readme_has_python_blocks() -> None:
    assert any(b.document.name == "README.md" for b in BLOCKS)
    assert all(b.code.strip() for b in BLOCKS), "an empty ```python block"


def test_markers_are_parsed() -> None:
    block = Block(ROOT / "x.md", 1, "# requires: server, pinecone\n# continued\nx = 1  # requires: nothing\n")
    assert block.markers() == {"requires": ["server", "pinecone"], "continued": []}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """Start ``python -m toolkit serve`` on a free port; yield its host:port."""
    port = _free_port()
    process = subprocess.Popen([sys.executable, "-m", "toolkit", "serve", "--port", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"the server exited with {process.returncode}: {process.stderr.read() if process.stderr else ''}")
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.2)
        else:
            pytest.fail("the server did not listen within 60 s")
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.mark.parametrize("block", BLOCKS, ids=[b.name for b in BLOCKS])
def test_block_runs_as_written(block: Block, request: pytest.FixtureRequest, tmp_path: Path,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    markers = block.markers()
    if "skip" in markers:
        pytest.skip(f"{block.name} is marked skip: {', '.join(markers['skip']) or 'no reason given'}")
    code = block.code
    for need in markers.get("requires", []):
        if need == "server":
            code = code.replace(README_PORT, request.getfixturevalue("server"))
        elif importlib.util.find_spec(need) is None:
            pytest.skip(f"{block.name} requires {need!r}, which is not installed")
    if "continued" in markers:
        if block.document not in _sessions:
            pytest.fail(f"{block.name} is marked continued but the previous block of {block.document.name} did not run")
        namespace, folder = _sessions[block.document]
    else:
        # A real module, so code that looks itself up in sys.modules (dataclasses, pickle) works.
        module = types.ModuleType(f"__readme_{block.line}__")
        sys.modules[module.__name__] = module
        namespace, folder = module.__dict__, tmp_path
    monkeypatch.chdir(folder)
    monkeypatch.setenv("VECTOR_TOOLKIT_CACHE", str(tmp_path / "cache"))
    _sessions.pop(block.document, None)
    # Padded so that a traceback names the document's own line numbers (and shows its lines).
    exec(compile("\n" * block.line + code, str(block.document), "exec"), namespace)  # noqa: S102 - the README's code
    _sessions[block.document] = (namespace, folder)


def test_block_line_numbers_point_at_the_fence() -> None:
    for block in BLOCKS:
        lines = block.document.read_text(encoding="utf-8").splitlines()
        assert lines[block.line - 1].startswith("```python"), block.name
