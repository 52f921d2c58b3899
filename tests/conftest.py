"""Shared pytest fixtures.

``client_factory`` runs a test against both storage modes (STYLE.md §16): it is parametrised
over "memory" and "persistent" (a folder under tmp_path). Call it like ``toolkit.Client``::

    def test_something(client_factory):
        client = client_factory(settings=...)
        ...
        client = client_factory.reopen(client)   # persistent: close and reopen the folder

``TOOLKIT_TEST_STORAGE=persistent python -m pytest`` runs the whole suite with every
``toolkit.Client()`` made without a path persistent, in a fresh folder under pytest's temp
directory (clients made by session-scoped fixtures and in subprocesses keep their own mode).
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Any, Iterator

import pytest

import toolkit


class ClientFactory:
    """Make clients of one storage kind; close them all when the test ends."""

    def __init__(self, kind: str, tmp_path: Path) -> None:
        self.kind = kind
        self._tmp_path = tmp_path
        self._clients: list[toolkit.Client] = []
        self._count = 0

    @property
    def persistent(self) -> bool:
        return self.kind == "persistent"

    def __call__(self, **kwargs: Any) -> toolkit.Client:
        """Return a new client (a fresh folder when persistent, unless ``path`` is given)."""
        if self.persistent and kwargs.get("path") is None:
            self._count += 1
            kwargs["path"] = str(self._tmp_path / f"db{self._count}")
        client = toolkit.Client(**kwargs)
        self._clients.append(client)
        return client

    def reopen(self, client: toolkit.Client, **kwargs: Any) -> toolkit.Client:
        """Close and reopen a persistent client's folder; an in-memory client is returned as is."""
        if not self.persistent:
            return client
        kwargs.setdefault("settings", client.settings)
        kwargs.setdefault("plugins", client._plugins)
        client.close()
        return self(path=client.path, **kwargs)

    def close_all(self) -> None:
        for client in self._clients:
            client.close()


EVERY_CLIENT_PERSISTENT = os.environ.get("TOOLKIT_TEST_STORAGE", "") == "persistent"


@pytest.fixture(autouse=True)
def _every_client_persistent(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
                             ) -> Iterator[None]:
    """With TOOLKIT_TEST_STORAGE=persistent, give every path-less Client a folder of its own."""
    if not EVERY_CLIENT_PERSISTENT:
        yield
        return
    made: list[toolkit.Client] = []
    folder = tmp_path_factory.mktemp("every-client")
    numbers = itertools.count()
    original = toolkit.Client.__init__

    def persistent_init(self: toolkit.Client, path: Any = None, **kwargs: Any) -> None:
        if path is None and not kwargs.get("read_only"):
            path = str(folder / f"db{next(numbers)}")
        original(self, path, **kwargs)
        made.append(self)

    monkeypatch.setattr(toolkit.Client, "__init__", persistent_init)
    yield
    for client in made:
        client.close()


@pytest.fixture(params=["memory", "persistent"])
def client_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """Make ``toolkit.Client``s in memory and, in a second run, persistent under tmp_path."""
    factory = ClientFactory(request.param, tmp_path)
    yield factory
    factory.close_all()


@pytest.fixture(scope="session")
def nndescent_warm() -> None:
    """Compile PyNNDescent's kernels once for the whole session (tens of seconds per process)."""
    toolkit.Client().builders()["nndescent"].warm_up()
