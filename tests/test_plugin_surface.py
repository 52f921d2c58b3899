"""The public plugin surface (``toolkit.plugin``): what engines import, how they declare query
parameters and capabilities, and how those declarations are checked."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import plugins
import toolkit
from toolkit import plugin
from toolkit.plugin import InvalidArgumentError, NoQueryParams, Query, SearchResult, SlabBuilder, SlabData, SlabIndex

PLUGIN_FILES = sorted(Path(plugins.__file__).parent.glob("*.py"))


@pytest.mark.parametrize("path", PLUGIN_FILES, ids=lambda p: p.name)
def test_builtin_plugins_import_the_toolkit_only_through_toolkit_plugin(path):
    imported = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
        elif isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
    toolkit_modules = {m for m in imported if m == "toolkit" or m.startswith("toolkit.")}
    assert toolkit_modules <= {"toolkit.plugin"}, f"{path.name} imports {sorted(toolkit_modules)}"


def test_the_surface_exports_what_it_declares():
    for name in plugin.__all__:
        assert hasattr(plugin, name), name
    assert {"SlabBuilder", "SlabIndex", "SlabData", "SearchResult", "Query", "ExactKernel", "SparseRows",
            "hookimpl"} <= set(plugin.__all__)


@dataclass(frozen=True)
class ProbeQuery:
    probes: int = 2
    exact_tail: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.probes, int) or self.probes < 1:
            raise InvalidArgumentError(f"must be an integer >= 1, got {self.probes!r}", path="search_params.probes")


class ProbeIndex(SlabIndex):
    query_params = ProbeQuery

    def __init__(self) -> None:
        self.seen: list[Any] = []

    def search_one(self, query: Query, k: int, allowed: np.ndarray | None, params: Any) -> SearchResult:
        self.seen.append(params)
        return SearchResult.empty()


class ProbeBuilder(SlabBuilder):
    name = "probe"
    index_type = ProbeIndex

    def build(self, data: SlabData, metric: str) -> SlabIndex:
        return ProbeIndex()


def test_query_parameters_are_declared_once_and_everything_derives_from_them():
    assert dict(ProbeBuilder.query_defaults) == {"probes": 2, "exact_tail": False}
    index = ProbeIndex()
    index.search(Query(np.ones(2, np.float32), None), 3)
    index.search(Query(np.ones(2, np.float32), None), 3, probes=5)
    index.search_batch(np.ones((2, 2), np.float32), 3, exact_tail=True)
    assert index.seen == [ProbeQuery(), ProbeQuery(probes=5), ProbeQuery(exact_tail=True),
                          ProbeQuery(exact_tail=True)]
    with pytest.raises(InvalidArgumentError, match=r"no query parameter\(s\) \['prob'\]") as info:
        index.search(Query(np.ones(2, np.float32), None), 3, prob=5)  # a misspelling is refused, not dropped
    assert info.value.path == "search_params"
    with pytest.raises(InvalidArgumentError, match="must be an integer >= 1") as info:
        ProbeBuilder.check_query_params({"probes": 0})
    assert info.value.path == "search_params.probes"
    assert SlabBuilder.query_defaults == {} and NoQueryParams() == NoQueryParams()


def test_declaring_query_defaults_by_hand_is_refused():
    with pytest.raises(TypeError, match="declare query parameters once"):
        class Twice(SlabBuilder):  # noqa: F841 - the class statement itself must fail
            name = "twice"
            query_defaults = {"probes": 1}

            def build(self, data: SlabData, metric: str) -> SlabIndex:
                raise AssertionError


def test_capabilities_are_class_attributes_not_probed_by_exception():
    builders = toolkit.Client().builders()
    assert {name: b.can_save() for name, b in builders.items() if name in {"exact", "annoy", "nndescent",
                                                                          "sparse_csr"}} == \
        {"exact": True, "annoy": True, "nndescent": True, "sparse_csr": False}
    assert ProbeBuilder.can_save() is False
    with pytest.raises(toolkit.UnimplementedError, match="can_save is False"):
        ProbeIndex().save(Path("unused"))
