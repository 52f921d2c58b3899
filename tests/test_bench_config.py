"""Sweep configs: plain data validated into frozen dataclasses; errors name the bad key."""

from __future__ import annotations

import dataclasses

import pytest

import toolkit
from toolkit.bench.config import SWEEPS_DIR, Step, SweepConfig, expand_grid, streaming_runbook

BASE = {"datasets": [{"name": "clustered", "n": 100}], "engines": ["exact"]}


def config(**changes):
    return SweepConfig.from_dict({**BASE, **changes})


def error_path(data) -> str:
    with pytest.raises(toolkit.InvalidArgumentError) as info:
        SweepConfig.from_dict(data)
    return info.value.path


def test_minimal_config_and_defaults():
    cfg = config()
    assert cfg.k == 10 and cfg.filters == ("none",)
    assert cfg.datasets[0].name == "clustered" and dict(cfg.datasets[0].params) == {"n": 100}
    assert cfg.engines[0].name == "exact" and cfg.engines[0].build == ({},)
    assert [w.kind for w in cfg.workloads] == ["query"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.k = 5


def test_grids_expand_to_the_cartesian_product_and_lists_to_unions():
    assert [dict(p) for p in expand_grid({"a": [1, 2], "b": "x"}, "g")] == [{"a": 1, "b": "x"}, {"a": 2, "b": "x"}]
    assert [dict(p) for p in expand_grid([{"a": 1}, {"a": [2, 3]}], "g")] == [{"a": 1}, {"a": 2}, {"a": 3}]
    cfg = config(engines=[{"name": "annoy", "build": {"n_trees": [5, 10]}, "query": {"search_k": [1, 2, 3]}}])
    assert len(cfg.engines[0].build) == 2 and len(cfg.engines[0].query) == 3


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({**BASE, "kk": 3}, "kk"),
        ({**BASE, "k": 0}, "k"),
        ({**BASE, "k": True}, "k"),
        ({"engines": ["exact"]}, "datasets"),
        ({**BASE, "engines": [{"name": "annoy", "buld": {}}]}, "engines[0].buld"),
        ({**BASE, "engines": [{"name": "annoy", "build": {"n_trees": []}}]}, "engines[0].build.n_trees"),
        ({**BASE, "engines": [{"name": "annoy", "query": [{"k": 1}, 3]}]}, "engines[0].query[1]"),
        ({**BASE, "workloads": [{"kind": "soak"}]}, "workloads[0].kind"),
        ({**BASE, "workloads": [{"kind": "runbook"}]}, "workloads[0]"),
        ({**BASE, "workloads": [{"kind": "query", "batches": 3}]}, "workloads[0].batches"),
        ({**BASE, "workloads": [{"kind": "runbook", "runbook": "streaming", "delete_fraction": 2}]},
         "workloads[0].delete_fraction"),
        ({**BASE, "workloads": [{"kind": "runbook", "steps": [{"op": "insert", "end": 5}, {"op": "jump"}]}]},
         "workloads[0].steps[1].op"),
        ({**BASE, "workloads": [{"kind": "runbook", "steps": [{"op": "insert", "end": 1.5}]}]},
         "workloads[0].steps[0].end"),
        ({**BASE, "workloads": [{"kind": "runbook", "steps": [{"op": "search", "start": 1}]}]},
         "workloads[0].steps[0]"),
        ({**BASE, "workloads": [{"name": "a"}, {"name": "a"}]}, "workloads"),
    ],
)
def test_errors_name_the_bad_key(data, path):
    assert error_path(data) == path


def test_explicit_runbook_steps():
    cfg = config(workloads=[{"kind": "runbook", "name": "rb", "steps": [
        {"op": "upsert", "start": 0, "end": 0.5}, {"op": "search"}, {"op": "delete", "end": 10}, {"op": "compact"}]}])
    steps = cfg.workloads[0].steps
    assert [s.op for s in steps] == ["insert", "search", "delete", "compact"]
    assert steps[0].rows(100) == range(0, 50)  # a float is a fraction
    assert steps[2].rows(100) == range(0, 10)  # an int is a row number


def test_streaming_runbook_shape():
    steps = streaming_runbook(batches=4, delete_fraction=0.5)
    ops = [s.op for s in steps]
    assert ops.count("insert") == 4 and ops.count("delete") == 3 and ops[-2:] == ["compact", "search"]
    inserted = [r for s in steps if s.op == "insert" for r in s.rows(100)]
    assert inserted == list(range(100))
    assert steps[4] == Step("delete", 0.0, 0.125)


def test_load_from_toml_and_bundled_names(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('name = "t"\nk = 5\n[[datasets]]\nname = "digits"\n[[engines]]\nname = "exact"\n')
    cfg = SweepConfig.load(path)
    assert cfg.name == "t" and cfg.k == 5
    assert SweepConfig.load(str(path)) == cfg
    for name in ("default", "quick"):
        assert (SWEEPS_DIR / f"{name}.toml").is_file()
        assert SweepConfig.load(name).name == name
    with pytest.raises(toolkit.InvalidArgumentError, match="bundled sweeps"):
        SweepConfig.load("no-such-sweep")


def test_round_trip_through_plain_data():
    cfg = SweepConfig.load("default")
    assert SweepConfig.from_dict(cfg.to_dict()) == cfg


def test_bad_toml_is_an_error_naming_the_file(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("k = = 3")
    with pytest.raises(toolkit.InvalidArgumentError, match="bad.toml"):
        SweepConfig.load(path)


@pytest.mark.parametrize(("key", "value"), [("consistency", "weak"), ("apply_delay", -1), ("background_merges", 1),
                                            ("configs", "middle")])
def test_runbook_options_are_validated(key, value):
    data = {**BASE, "workloads": [{"kind": "runbook", "runbook": "streaming", key: value}]}
    assert error_path(data) == f"workloads[0].{key}"
