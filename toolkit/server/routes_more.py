"""The REST calls beyond the core data plane: namespace creation, fetch by metadata, bulk
imports, backups and restore jobs. Paths and bodies are the reference's (sdk_wire §3-§4):

    POST   /index/{i}/namespaces                 create_namespace   {"name", "schema"?}     -> 201
    POST   /index/{i}/vectors/fetch_by_metadata  fetch_by_metadata  {"filter", "namespace",
                                                                     "limit", "paginationToken"}
    POST   /index/{i}/bulk/imports               start_import       {"uri", "errorMode"?}   -> 200 {"id"}
    GET    /index/{i}/bulk/imports[/{id}]        list / describe (camelCase ImportModel)
    DELETE /index/{i}/bulk/imports/{id}          cancel_import
    POST   /indexes/{name}/backups               create_backup      {"name"?, "description"?} -> 201
    GET    /indexes/{name}/backups, /backups[/{id}]; DELETE /backups/{id}
    POST   /backups/{id}/create-index            create_index_from_backup -> 202 {"restore_job_id", "index_id"}
    GET    /restore-jobs[/{id}]

Each handler only converts: the rules are the core's (``Index`` / ``Client`` methods).
Imports read server-side files, so over the wire they are off unless the server was started
with import roots (``--import-root``), and a URI must resolve inside one of them (403 otherwise).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Sequence

from ..confine import confine
from ..errors import InvalidArgumentError
from . import wire

Result = tuple[int, Any, dict[str, str]]


def _page(data: list[dict[str, Any]], pagination: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"data": data}
    out["pagination"] = {"next": pagination.next} if pagination is not None and pagination.next else None
    return out


def _import_json(model: Any) -> dict[str, Any]:
    """The reference's ImportModel body (camelCase)."""
    out: dict[str, Any] = {"id": str(model.id), "uri": model.uri, "status": model.status,
                           "createdAt": model.created_at, "finishedAt": model.finished_at,
                           "percentComplete": float(model.percent_complete or 0.0),
                           "recordsImported": int(model.records_imported or 0)}
    if model.error is not None:
        out["error"] = model.error
    return out


class MoreHandlers:
    """Handlers for the routes above, over one ``toolkit.Client``."""

    def __init__(self, client: Any, import_roots: Sequence[Path] = (),
                 index_model: Callable[[Any, Any], dict[str, Any]] | None = None) -> None:
        self.client = client
        self.import_roots = tuple(import_roots)
        self.index_model = index_model

    def _index(self, call: Any) -> Any:
        return self.client.Index(name=call.path_params["index"])

    # -- data plane -------------------------------------------------------------------------
    def create_namespace(self, call: Any) -> Result:
        from .headers import lsn_headers

        index = self._index(call)
        body = call.json()
        if body.get("name") is None:
            raise InvalidArgumentError("is required", path="name")
        name = wire.as_str(body["name"], "name")
        schema = wire.as_object(body["schema"], "schema") if body.get("schema") is not None else None
        desc = index.create_namespace(name, schema=schema)
        out: dict[str, Any] = {"name": desc.name, "record_count": int(desc.record_count)}
        if schema is not None:
            out["schema"] = schema
        return 201, out, lsn_headers(*index.lsns(desc.name))

    def fetch_by_metadata(self, call: Any) -> Result:
        from .headers import lsn_headers

        index = self._index(call)
        body = call.json()
        kwargs: dict[str, Any] = {}
        for key, name, check in (("filter", "filter", wire.as_object), ("namespace", "namespace", wire.as_str),
                                 ("limit", "limit", wire.as_int), ("paginationToken", "pagination_token", wire.as_str),
                                 ("pagination_token", "pagination_token", wire.as_str)):
            if body.get(key) is not None:
                kwargs[name] = check(body[key], key)
        resp = index.fetch_by_metadata(**kwargs)
        out = wire.fetch_response(resp)
        if resp.pagination is not None and resp.pagination.next:
            out["pagination"] = {"next": resp.pagination.next}
        committed, _ = index.lsns(kwargs.get("namespace"))
        return 200, out, lsn_headers(committed, resp.max_indexed_lsn)

    # -- bulk imports -----------------------------------------------------------------------
    def start_import(self, call: Any) -> Result:
        index = self._index(call)
        body = call.json()
        if body.get("uri") is None:
            raise InvalidArgumentError("is required", path="uri")
        uri = str(confine(wire.as_str(body["uri"], "uri"), self.import_roots))  # the path that was checked
        mode = "continue"
        if body.get("errorMode") is not None:
            error_mode = wire.as_object(body["errorMode"], "errorMode")
            if error_mode.get("onError") is not None:
                mode = wire.as_str(error_mode["onError"], "errorMode.onError").lower()
        resp = index.start_import(uri, integration_id=body.get("integrationId"), error_mode=mode)
        return 200, {"id": str(resp.id)}, {}

    def list_imports(self, call: Any) -> Result:
        index = self._index(call)
        resp = index.list_imports_paginated(limit=wire.query_params_one(call.query, "limit", wire.int_param),
                                            pagination_token=wire.pagination_token(call.query))
        return 200, _page([_import_json(m) for m in resp.data], resp.pagination), {}

    def describe_import(self, call: Any) -> Result:
        return 200, _import_json(self._index(call).describe_import(call.path_params["id"])), {}

    def cancel_import(self, call: Any) -> Result:
        self._index(call).cancel_import(call.path_params["id"])
        return 200, {}, {}

    # -- backups and restore jobs (control plane) -------------------------------------------
    def create_backup(self, call: Any) -> Result:
        body = call.json()
        name = wire.as_str(body["name"], "name") if body.get("name") is not None else None
        description = wire.as_str(body["description"], "description") if body.get("description") is not None else None
        model = self.client.create_backup(call.path_params["name"], backup_name=name, description=description)
        return 201, model.to_dict(), {}

    def list_index_backups(self, call: Any) -> Result:
        self.client.describe_index(call.path_params["name"])  # 404 for an unknown index
        return 200, _page([m.to_dict() for m in self.client.list_backups(index_name=call.path_params["name"])],
                          None), {}

    def list_backups(self, call: Any) -> Result:
        return 200, _page([m.to_dict() for m in self.client.list_backups()], None), {}

    def describe_backup(self, call: Any) -> Result:
        return 200, self.client.describe_backup(call.path_params["id"]).to_dict(), {}

    def delete_backup(self, call: Any) -> Result:
        self.client.delete_backup(call.path_params["id"])
        return 202, None, {}

    def create_index_from_backup(self, call: Any) -> Result:
        body = call.json()
        if body.get("name") is None:
            raise InvalidArgumentError("is required", path="name")
        name = wire.as_str(body["name"], "name")
        kwargs: dict[str, Any] = {}
        if body.get("tags") is not None:
            kwargs["tags"] = wire.as_object(body["tags"], "tags")
        if body.get("deletion_protection") is not None:
            kwargs["deletion_protection"] = wire.as_str(body["deletion_protection"], "deletion_protection")
        self.client.create_index_from_backup(call.path_params["id"], name, **kwargs)
        jobs = [j for j in self.client.list_restore_jobs() if j.target_index_name == name]
        job_id = jobs[-1].restore_job_id if jobs else ""
        return 202, {"restore_job_id": job_id, "index_id": name}, {}

    def list_restore_jobs(self, call: Any) -> Result:
        return 200, _page([j.to_dict() for j in self.client.list_restore_jobs()], None), {}

    def describe_restore_job(self, call: Any) -> Result:
        return 200, self.client.describe_restore_job(call.path_params["id"]).to_dict(), {}


def routes(h: MoreHandlers, route: Callable[..., Any], data_prefix: str) -> list[Any]:
    """The routes above, built with the app's ``route(path, handler, methods, plane)`` factory."""
    d = f"{data_prefix}/{{index}}"
    return [
        route(f"{d}/namespaces", h.create_namespace, ["POST"], "data"),
        route(f"{d}/vectors/fetch_by_metadata", h.fetch_by_metadata, ["POST"], "data"),
        route(f"{d}/bulk/imports", h.start_import, ["POST"], "data"),
        route(f"{d}/bulk/imports", h.list_imports, ["GET"], "data"),
        route(f"{d}/bulk/imports/{{id}}", h.describe_import, ["GET"], "data"),
        route(f"{d}/bulk/imports/{{id}}", h.cancel_import, ["DELETE"], "data"),
        route("/indexes/{name}/backups", h.create_backup, ["POST"], "control"),
        route("/indexes/{name}/backups", h.list_index_backups, ["GET"], "control"),
        route("/backups", h.list_backups, ["GET"], "control"),
        route("/backups/{id}", h.describe_backup, ["GET"], "control"),
        route("/backups/{id}", h.delete_backup, ["DELETE"], "control"),
        route("/backups/{id}/create-index", h.create_index_from_backup, ["POST"], "control"),
        route("/restore-jobs", h.list_restore_jobs, ["GET"], "control"),
        route("/restore-jobs/{id}", h.describe_restore_job, ["GET"], "control"),
    ]
