"""The dataset registry: built-ins through the entry point, plugins through the same hook."""

from __future__ import annotations

import numpy as np
import pytest

import toolkit
from toolkit import datasets, hookimpl
from toolkit.datasets import Dataset, DatasetSource, registry
from toolkit.plugin_manager import get_plugin_manager

BUILTINS = {"clustered", "python-docs", "sparse-zipf", "digits", "hdf5", "parquet"}


class Tiny(DatasetSource):
    name = "tiny"
    description = "three points"

    def __init__(self, scale: float = 1.0) -> None:
        self.scale = scale

    def load(self) -> Dataset:
        train = self.scale * np.eye(3, dtype=np.float32)
        return Dataset(repr(self), "euclidean", train, train[:1])


class TinyPlugin:
    @hookimpl
    def register_datasets(self):
        return [Tiny]


class Clash:
    class Other(Tiny):
        name = "clustered"

    @hookimpl
    def register_datasets(self):
        return [self.Other]


def test_builtins_are_registered_through_the_entry_point():
    assert BUILTINS <= set(registry())
    manager = get_plugin_manager()
    assert any(getattr(p, "__name__", "") == "toolkit.datasets.builtin" for p in manager.get_plugins())


def test_a_plugin_adds_a_dataset():
    sources = registry([TinyPlugin()])
    assert sources["tiny"] is Tiny
    ds = datasets.load_dataset("tiny", plugins=[TinyPlugin()], scale=2.0)
    assert ds.name == "tiny(scale=2.0)" and ds.n == 3 and ds.train[1, 1] == 2.0


def test_a_duplicate_name_names_both_plugins():
    with pytest.raises(toolkit.InvalidArgumentError, match="registered twice") as info:
        registry([Clash()])
    assert "datasets" in str(info.value) and "Clash" in str(info.value)


def test_hook_returning_a_non_source_is_refused():
    class Bad:
        @hookimpl
        def register_datasets(self):
            return [int]

    with pytest.raises(toolkit.InvalidArgumentError, match="not a DatasetSource"):
        registry([Bad()])


def test_unknown_dataset_and_parameter_errors_name_the_key():
    with pytest.raises(toolkit.NotFoundError, match="unknown dataset") as info:
        datasets.make_source("nope", path="datasets[2]")
    assert info.value.path == "datasets[2].name"
    with pytest.raises(toolkit.InvalidArgumentError) as info:
        datasets.make_source("clustered", {"dims": 3}, path="datasets[0]")
    assert info.value.path == "datasets[0].dims"
    with pytest.raises(toolkit.InvalidArgumentError) as info:
        datasets.make_source("clustered", {"n": 0}, path="datasets[0]")
    assert info.value.path == "datasets[0].n"


def test_source_repr_shows_only_changed_parameters():
    assert repr(datasets.Clustered()) == "clustered()"
    assert repr(datasets.Clustered(n=500, dim=8)) == "clustered(n=500, dim=8)"
    assert datasets.Clustered(n=500).get_params()["n"] == 500


def test_register_datasets_hookspec_exists():
    from toolkit import hookspecs

    assert hasattr(hookspecs, "register_datasets")
