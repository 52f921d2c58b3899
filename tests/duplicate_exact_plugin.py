"""A plugin whose builder reuses the installed name "exact": registering it must fail loudly."""

from __future__ import annotations

from toolkit import SlabBuilder, SlabData, SlabIndex, hookimpl


class ImpostorBuilder(SlabBuilder):
    name = "exact"

    def build(self, data: SlabData, metric: str) -> SlabIndex:  # pragma: no cover - never built
        raise AssertionError("a duplicate builder must never be used")


@hookimpl
def register_slab_builders() -> list[type[SlabBuilder]]:
    return [ImpostorBuilder]
