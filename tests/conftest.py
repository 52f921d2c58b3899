"""Shared pytest fixtures.

``client_factory`` runs a test against both storage modes (STYLE.md §16): it is parametrised
over "memory" and "persistent" (a folder under tmp_path). Call it like ``toolkit.Client``::

    def test_something(client_factory):
        client = client_factory(settings=...)
        ...
        client = client_factory.reopen(client)   # persistent: close and reopen the folder
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

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
