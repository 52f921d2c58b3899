"""Robustness benchmark (issue #17): hostile inputs per surface, damage, kills, server memory.

Run from the repository root::

    python benchmarks/bench_robustness.py                      # the full run (~5-10 min on 2 cores)
    python benchmarks/bench_robustness.py --scale 0.1          # a quick look

It writes ``benchmarks/results/robustness.json`` and ``benchmarks/results/robustness.md``.
Nothing asserts here (the tests do); this counts, per surface:

- python-api: random operation sequences (the fuzz tests' strategies) against a dict model
  on a persistent client with reopens: calls tried, typed errors, untyped errors, refused
  calls that changed stored data, accepted calls whose result differs from the model;
- http: mutated and random JSON bodies, content types, paths and methods against the app in
  process: requests, 4xx, 5xx other than 501/503, refused requests that changed stored data;
- damage: every kind of file × delete/truncate/flip: named DataLossError, warned, harmless
  (identical), silent (changed without a word);
- kills: SIGKILL rounds of tests/durability_worker.py at random moments, each verified;
- server memory: RSS and ledger size of one app after ``--requests`` queries.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import datetime as _dt  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import random  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
RESULTS = ROOT / "benchmarks" / "results"

import toolkit  # noqa: E402
import toolkit.server  # noqa: E402
from toolkit.errors import DataLossError, ToolkitError  # noqa: E402


def _draw(strategy: Any, rng: random.Random) -> Any:
    """Draw one varied example of a hypothesis strategy outside a test (``rng`` picks the seed)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        random.seed(rng.getrandbits(32))  # hypothesis' example() draws from the global random state
        return strategy.example()


def python_api(sequences: int, rng: random.Random) -> dict[str, int]:
    """Random op sequences vs the dict model, persistent, with reopens."""
    from hypothesis import strategies as st
    from test_fuzz_api import ENGINE, _apply, _call, _observed, ops

    counts = dict(calls=0, typed_errors=0, untyped_errors=0, refused_changed_data=0, accepted_wrong_result=0,
                  reopens=0)
    for _ in range(sequences):
        sequence = _draw(st.lists(ops, min_size=5, max_size=15), rng)
        with tempfile.TemporaryDirectory() as tmp:
            path = str(Path(tmp) / "db")
            client = toolkit.Client(path=path)
            client.create_index("f", dimension=4, metric="euclidean", engine=ENGINE)
            model: dict = {}
            for kind, ns, arg in sequence:
                if kind == "reopen":
                    client.close()
                    client = toolkit.Client(path=path)
                    counts["reopens"] += 1
                    continue
                counts["calls"] += 1
                before = _observed(client.Index("f"))
                try:
                    _call(client, kind, ns, arg)
                except ToolkitError:
                    counts["typed_errors"] += 1
                    counts["refused_changed_data"] += _observed(client.Index("f")) != before
                    continue
                except Exception:  # noqa: BLE001 - counted
                    counts["untyped_errors"] += 1
                    continue
                if kind not in ("flush", "merge", "bad_kwarg"):
                    _apply(model, kind, ns, arg)
                counts["accepted_wrong_result"] += _observed(client.Index("f")) != model
            client.close()
    return counts


def http(requests: int, rng: random.Random) -> dict[str, int]:
    """Mutated and random bodies, content types, paths and methods against the app in process."""
    from hypothesis import strategies as st
    from starlette.testclient import TestClient
    from test_fuzz_wire import VALID, _reset, _state, json_value, segment

    tk = toolkit.Client()
    tk.create_index(name="idx", dimension=4, metric="dotproduct")
    counts = dict(requests=0, ok_2xx=0, refused_4xx=0, status_5xx_unexpected=0, refused_changed_data=0,
                  server_still_up=0)
    templates = ["/indexes/{}", "/index/{}/query", "/index/idx/namespaces/{}", "/index/idx/vectors/{}",
                 "/index/idx/vectors/list?limit={}&namespace={}", "/index/idx/vectors/fetch?ids={}&ids={}"]
    with TestClient(toolkit.server.create_app(tk), raise_server_exceptions=False) as client:
        _reset(tk)
        for n in range(requests):
            if n % 25 == 0:
                _reset(tk)
            before = _state(tk)
            roll = rng.random()
            route = rng.choice(sorted(VALID))
            if roll < 0.5:
                body = json.loads(json.dumps(VALID[route]))
                key = rng.choice(list(body) + ["extra"])
                body[key] = _draw(json_value, rng)
                resp = client.post(f"/index/idx/{route}", content=json.dumps(body),
                                   headers={"content-type": "application/json"})
            elif roll < 0.75:
                raw = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 40)))
                ctype = rng.choice(["application/json", "text/plain", "application/x+json"])
                resp = client.post(f"/index/idx/{route}", content=raw, headers={"content-type": ctype})
            else:
                method = rng.choice(["GET", "POST", "PATCH", "PUT"])
                parts = [_draw(segment, rng), _draw(segment, rng)]
                resp = client.request(method, rng.choice(templates).format(*parts),
                                      headers={"content-type": "application/json"})
            counts["requests"] += 1
            if resp.status_code >= 500 and resp.status_code not in (501, 503):
                counts["status_5xx_unexpected"] += 1
            elif resp.status_code >= 400:
                counts["refused_4xx"] += 1
                counts["refused_changed_data"] += _state(tk) != before
            else:
                counts["ok_2xx"] += 1
        counts["server_still_up"] = int(client.get("/health").status_code == 200)
    return counts


def damage() -> dict[str, Any]:
    """Every kind of file × delete/truncate/flip on a closed database."""
    from test_damage import KINDS, _build, _damage, _observe, _targets

    counts: dict[str, Any] = dict(cases=0, named_data_loss=0, warned=0, harmless=0, silent=0, untyped=0,
                                  other_typed=0)
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "base"
        expected, backup_expected = _build(base)
        for kind in KINDS:
            for mode in ("delete", "truncate", "flip"):
                db = Path(tmp) / f"case-{counts['cases']}"
                shutil.copytree(base, db)
                targets = _targets(db)
                if kind not in targets:
                    continue
                counts["cases"] += 1
                _damage(targets[kind], mode)
                handler = _Collect()
                logging.getLogger("toolkit").addHandler(handler)
                try:
                    with warnings.catch_warnings(record=True) as caught:
                        warnings.simplefilter("always")
                        live, restored = _observe(db)
                    if caught or handler.records:
                        counts["warned"] += 1
                    elif live == expected and restored == backup_expected:
                        counts["harmless"] += 1
                    else:
                        counts["silent"] += 1
                except DataLossError:
                    counts["named_data_loss"] += 1
                except ToolkitError:
                    counts["other_typed"] += 1
                except Exception:  # noqa: BLE001 - counted
                    counts["untyped"] += 1
                finally:
                    logging.getLogger("toolkit").removeHandler(handler)
                shutil.rmtree(db, ignore_errors=True)
    return counts


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def kills(rounds: int, rng: random.Random) -> dict[str, Any]:
    """SIGKILL the durability worker at random moments; verify every acknowledged op after each."""
    import multiprocessing
    import signal

    from test_durability_kill import Run

    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["toolkit", "durability_worker"])
    survived, outcomes = 0, []
    with tempfile.TemporaryDirectory() as tmp:
        run = Run(context, Path(tmp), background=True)
        for _ in range(rounds):
            child = run.start()
            time.sleep(rng.uniform(0.1, 0.8))
            child.kill()
            child.join(timeout=30)
            try:
                outcomes.append(run.verify())
                survived += int(child.exitcode == -signal.SIGKILL)
            except AssertionError as exc:
                outcomes.append(f"FAILED: {exc}")
    return {"rounds": rounds, "survived": survived, "acknowledged_ops": run.next_op}


def _rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def server_memory(requests: int) -> dict[str, Any]:
    """RSS and ledger size of one app after ``requests`` queries (in process)."""
    from starlette.testclient import TestClient

    tk = toolkit.Client()
    tk.create_index(name="idx", dimension=4)
    tk.Index("idx").upsert(vectors=[{"id": "a", "values": [1, 0, 0, 0]}])
    body = json.dumps({"topK": 1, "vector": [1, 0, 0, 0]})
    points = []
    with TestClient(toolkit.server.create_app(tk)) as client:
        started = time.perf_counter()
        for n in range(1, requests + 1):
            client.post("/index/idx/query", content=body, headers={"content-type": "application/json"})
            if n in (1_000, requests // 2, requests):
                points.append((n, round(_rss_mb(), 1)))
        seconds = time.perf_counter() - started
    ledger = tk.Index("idx")._ledger
    return {"requests": requests, "rss_mb_at": points, "ledger_kept": len(ledger.entries()),
            "ledger_window": ledger.window, "ledger_total_requests": int(ledger.summary()["requests"].sum()),
            "seconds": round(seconds, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every count (0.1 for a quick look)")
    parser.add_argument("--requests", type=int, default=None, help="server-memory requests (default 100k × scale)")
    parser.add_argument("--seed", type=int, default=17)
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    logging.getLogger("toolkit").setLevel(logging.WARNING)
    rng = random.Random(args.seed)
    load_before = os.getloadavg()
    started = time.perf_counter()
    results: dict[str, Any] = {}
    results["python_api"] = python_api(max(2, int(60 * args.scale)), rng)
    results["http"] = http(max(20, int(3000 * args.scale)), rng)
    results["damage"] = damage()
    results["kills"] = kills(max(2, int(10 * args.scale)), rng)
    results["server_memory"] = server_memory(args.requests or max(2_000, int(100_000 * args.scale)))
    results["meta"] = {"when": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                       "seconds": round(time.perf_counter() - started, 1), "scale": args.scale,
                       "load_before": [round(x, 2) for x in load_before],
                       "load_after": [round(x, 2) for x in os.getloadavg()], "cpus": os.cpu_count(),
                       "command": "python benchmarks/bench_robustness.py " + " ".join(argv or sys.argv[1:])}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "robustness.json").write_text(json.dumps(results, indent=2) + "\n")
    (RESULTS / "robustness.md").write_text(_markdown(results))
    print((RESULTS / "robustness.md").read_text())  # a script's report, not library output
    return 0


def _markdown(r: dict[str, Any]) -> str:
    api, web, dmg, kill, mem, meta = (r["python_api"], r["http"], r["damage"], r["kills"], r["server_memory"],
                                      r["meta"])
    lines = [
        "# Robustness (issue #17)", "",
        f"Produced by `{meta['command'].strip()}` on {meta['when']} in {meta['seconds']} s "
        f"({meta['cpus']} CPUs; load average before {meta['load_before']}, after {meta['load_after']}: the "
        "machine was shared, so the times are noisy; the counts are not).", "",
        "| surface | inputs tried | typed errors | untyped errors | 500s | silent damage | data changed by a "
        "rejected request |",
        "|---|---:|---:|---:|---:|---:|---:|",
        f"| Python API (random op sequences vs a dict model, persistent, {api['reopens']} reopens) | "
        f"{api['calls']} calls | {api['typed_errors']} | {api['untyped_errors']} | – | "
        f"{api['accepted_wrong_result']} | {api['refused_changed_data']} |",
        f"| HTTP (mutated/random bodies, content types, paths, methods) | {web['requests']} requests | "
        f"{web['refused_4xx']} (4xx) | 0 | {web['status_5xx_unexpected']} | – | {web['refused_changed_data']} |",
        f"| Files (every kind × delete/truncate/flip) | {dmg['cases']} cases | {dmg['named_data_loss']} named "
        f"DataLossError, {dmg['warned']} warned, {dmg['harmless']} harmless | {dmg['untyped']} | – | "
        f"{dmg['silent']} | – |",
        "",
        f"- HTTP: {web['ok_2xx']} requests were valid and served; the server was "
        f"{'still up' if web['server_still_up'] else 'DOWN'} afterwards.",
        f"- Damage: {dmg['other_typed']} cases ended in another typed error.",
        f"- Kill rounds (SIGKILL of a writer at random moments, background merges): {kill['survived']} of "
        f"{kill['rounds']} survived with every acknowledged op ({kill['acknowledged_ops']} ops in all).",
        f"- Server memory after {mem['requests']} queries (in process): RSS {mem['rss_mb_at']} (requests, MB); "
        f"the usage ledger keeps {mem['ledger_kept']} single requests (window {mem['ledger_window']}) and "
        f"exact totals for all {mem['ledger_total_requests']}; {mem['seconds']} s.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
