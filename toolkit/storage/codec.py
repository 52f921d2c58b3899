"""Codec: one write request as a length-prefixed, checksummed binary log record.

A record is ``MAGIC | body length (u32) | CRC32 of body (u32) | body`` and the body is
``LSN (u64) | op (u8) | payload``. Payloads are already-validated, resolved writes (an
update is logged as the upsert of the record it produced), so replay never reads state:

* ``upsert``: a JSON header (ids, metadata, array layout) then the raw numpy arrays
  (dense float32 rows, sparse CSR, billed sizes);
* ``delete``: a JSON list of ids; ``delete_all`` and ``noop`` (an LSN that changed nothing): empty.
"""

from __future__ import annotations

import json
import struct
import zlib

import numpy as np

from ..errors import InternalError
from ..journal import Delete, DeleteAll, Noop, Op, Upsert
from ..records import RecordBatch
from ..sparse import SparseRows

MAGIC = b"TKLR"
HEADER = struct.Struct("<4sII")  # magic, body length, CRC32(body)
BODY_HEAD = struct.Struct("<QB")  # lsn, op
OPS = {"upsert": 1, "delete": 2, "delete_all": 3, "noop": 4}
OP_NAMES = {code: name for name, code in OPS.items()}
MAX_BODY = 1 << 31
_U32 = struct.Struct("<I")


def encode_record(lsn: int, op: Op) -> bytes:
    """Return the framed log record of one write request."""
    body = BODY_HEAD.pack(lsn, _code(op)) + encode_payload(op)
    return HEADER.pack(MAGIC, len(body), zlib.crc32(body)) + body


def _code(op: Op) -> int:
    match op:
        case Upsert():
            return OPS["upsert"]
        case Delete():
            return OPS["delete"]
        case DeleteAll():
            return OPS["delete_all"]
        case Noop():
            return OPS["noop"]
    raise InternalError(f"cannot log {op!r}")


def encode_payload(op: Op) -> bytes:
    if isinstance(op, Upsert):
        return _encode_batch(op.batch)
    if isinstance(op, Delete):
        return json.dumps(list(op.ids), separators=(",", ":")).encode("utf-8")
    return b""


def decode_body(body: bytes | memoryview) -> tuple[int, Op]:
    """Return (lsn, op) of a record body whose checksum was already verified."""
    lsn, code = BODY_HEAD.unpack_from(body, 0)
    name = OP_NAMES[code]
    rest = memoryview(body)[BODY_HEAD.size:]
    if name == "upsert":
        return lsn, Upsert(_decode_batch(rest))
    if name == "delete":
        return lsn, Delete(tuple(json.loads(bytes(rest))))
    return lsn, (DeleteAll() if name == "delete_all" else Noop())


def _encode_batch(batch: RecordBatch) -> bytes:
    arrays: list[tuple[str, np.ndarray]] = [
        ("sizes", np.ascontiguousarray(batch.sizes, np.int64)),
        ("sparse_indptr", np.ascontiguousarray(batch.sparse.indptr, np.int64)),
        ("sparse_indices", np.ascontiguousarray(batch.sparse.indices, np.uint32)),
        ("sparse_values", np.ascontiguousarray(batch.sparse.values, np.float32)),
    ]
    if batch.dense is not None:
        arrays.append(("dense", np.ascontiguousarray(batch.dense, np.float32)))
    header = {
        "ids": list(batch.ids),
        "metadata": list(batch.metadata),
        "arrays": [[name, a.dtype.str, list(a.shape)] for name, a in arrays],
    }
    head = json.dumps(header, separators=(",", ":")).encode("utf-8")
    return b"".join([_U32.pack(len(head)), head, *(a.tobytes() for _, a in arrays)])


def _decode_batch(data: memoryview) -> RecordBatch:
    (head_len,) = _U32.unpack_from(data, 0)
    header = json.loads(bytes(data[4 : 4 + head_len]))
    offset = 4 + head_len
    arrays: dict[str, np.ndarray] = {}
    for name, dtype, shape in header["arrays"]:
        dt = np.dtype(dtype)
        count = int(np.prod(shape)) if shape else 1
        arrays[name] = np.frombuffer(data, dt, count, offset).reshape(shape).copy()
        offset += count * dt.itemsize
    sparse = SparseRows(arrays["sparse_indptr"], arrays["sparse_indices"], arrays["sparse_values"])
    return RecordBatch(header["ids"], arrays.get("dense"), sparse, header["metadata"], arrays["sizes"])
