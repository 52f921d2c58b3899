"""Metadata columns: the flat metadata of many records, stored field by field for fast filters.

A ``MetadataColumns`` holds one column per metadata field. Each column keeps, for every row:

* ``kind`` (int8): ``ABSENT``, ``STR``, ``NUM``, ``FALSE``, ``TRUE`` or ``LIST``;
* ``str_codes`` (int32): the string's code in the field's vocabulary, -1 when the row holds no string;
* ``num`` (float64): the number (ints are stored as float64), NaN when the row holds no number;
* ``list_indptr`` / ``list_codes``: CSR-style lists of strings, coded with the same vocabulary.

Arrays for a value type that no row of the field holds are left out (``None``), so a field of
strings costs five bytes per row. Metadata must already be validated (``metadata.check_metadata``):
values are str, bool, finite numbers or lists of str; bool is never a number.

Reads never loop over rows in Python: ``FieldColumn`` answers equality, membership and range
questions with numpy, and ``take``, ``concat``, ``state`` and ``from_state`` are vectorised.
``append`` loops over the incoming batch only; batches are kept as chunks and consolidated on
the next read, so many small appends stay cheap.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any, Final

import numpy as np

from .errors import InternalError, InvalidArgumentError

# What one (row, field) cell holds; NaN in ``num`` and -1 in ``str_codes`` mirror this.
ABSENT: Final = 0
STR: Final = 1
NUM: Final = 2
FALSE: Final = 3
TRUE: Final = 4
LIST: Final = 5

STATE_FORMAT: Final = "toolkit.metadata_columns/1"

_EMPTY_CODES = np.empty(0, np.int32)


class _Vocab:
    """Give each distinct string of one field a stable int32 code; codes are never reused."""

    __slots__ = ("strings", "index")

    def __init__(self, strings: list[str] | None = None) -> None:
        self.strings: list[str] = strings if strings is not None else []
        self.index: dict[str, int] = dict(zip(self.strings, range(len(self.strings))))
        if len(self.index) != len(self.strings):
            raise InternalError("a metadata vocabulary holds the same string twice")

    def __len__(self) -> int:
        return len(self.strings)

    def code(self, text: str) -> int:
        """Return the code of ``text``, adding it if it is new."""
        found = self.index.get(text)
        if found is None:
            found = self.index[text] = len(self.strings)
            self.strings.append(text)
        return found

    def copy(self) -> _Vocab:
        out = _Vocab()
        out.strings, out.index = list(self.strings), dict(self.index)  # no re-hashing
        return out

    def truncate(self, size: int) -> None:
        """Forget the strings added after the vocabulary had ``size`` entries."""
        for text in self.strings[size:]:
            del self.index[text]
        del self.strings[size:]

    def as_objects(self) -> np.ndarray:
        out = np.empty(len(self.strings), dtype=object)
        out[:] = self.strings
        return out


class _FieldData:
    """The arrays of one field over ``n`` rows (see the module docstring)."""

    __slots__ = ("kind", "str_codes", "num", "list_indptr", "list_codes", "_list_rows")

    def __init__(
        self,
        kind: np.ndarray,
        str_codes: np.ndarray | None = None,
        num: np.ndarray | None = None,
        list_indptr: np.ndarray | None = None,
        list_codes: np.ndarray | None = None,
    ) -> None:
        self.kind = kind
        self.str_codes = str_codes
        self.num = num
        self.list_indptr = list_indptr
        self.list_codes = list_codes
        self._list_rows: np.ndarray | None = None

    @property
    def n(self) -> int:
        return int(self.kind.size)

    @property
    def nbytes(self) -> int:
        arrays = (self.kind, self.str_codes, self.num, self.list_indptr, self.list_codes)
        return sum(a.nbytes for a in arrays if a is not None)

    def list_rows(self) -> np.ndarray:
        """Return the row of every list element (cached: the arrays never change)."""
        if self._list_rows is None:
            assert self.list_indptr is not None
            self._list_rows = np.repeat(np.arange(self.n, dtype=np.intp), np.diff(self.list_indptr))
        return self._list_rows

    def list_lengths(self) -> np.ndarray:
        if self.list_indptr is None:
            return np.zeros(self.n, np.int64)
        return np.diff(self.list_indptr)

    def used_codes(self) -> np.ndarray:
        """Return the sorted vocabulary codes some row uses."""
        parts = [_EMPTY_CODES]
        if self.str_codes is not None:
            parts.append(self.str_codes[self.str_codes >= 0])
        if self.list_codes is not None:
            parts.append(self.list_codes)
        return np.unique(np.concatenate(parts))

    def remapped(self, remap: np.ndarray) -> _FieldData:
        """Return a copy whose vocabulary codes go through ``remap`` (old code -> new code)."""
        # One extra slot maps the "no string" code -1 to itself.
        table = np.append(remap.astype(np.int32), np.int32(-1))
        return _FieldData(
            self.kind,
            None if self.str_codes is None else table[self.str_codes],
            self.num,
            self.list_indptr,
            None if self.list_codes is None else table[self.list_codes],
        )

    def take(self, rows: np.ndarray) -> _FieldData | None:
        """Return the given rows in order, or None when none of them holds the field."""
        kind = self.kind[rows]
        if not kind.any():
            return None
        indptr = codes = None
        if self.list_indptr is not None and (kind == LIST).any():
            starts = self.list_indptr[rows]
            lengths = self.list_indptr[rows + 1] - starts
            indptr = np.zeros(rows.size + 1, np.int64)
            np.cumsum(lengths, out=indptr[1:])
            # Element j of new row r sits at starts[r] + (j - indptr[r]) in the old arrays.
            gather = np.repeat(starts - indptr[:-1], lengths) + np.arange(indptr[-1])
            assert self.list_codes is not None
            codes = self.list_codes[gather]
        return _FieldData(
            kind,
            self.str_codes[rows] if self.str_codes is not None and (kind == STR).any() else None,
            self.num[rows] if self.num is not None and (kind == NUM).any() else None,
            indptr,
            codes,
        )

    @staticmethod
    def concat(parts: Sequence[tuple[int, _FieldData | None]]) -> _FieldData:
        """Stack the rows of several parts; a None part is ``n`` rows that lack the field."""
        datas = [d for _, d in parts if d is not None]

        def stack(attr: str, fill: Any, dtype: Any) -> np.ndarray | None:
            if all(getattr(d, attr) is None for d in datas):
                return None
            return np.concatenate(
                [
                    getattr(d, attr) if d is not None and getattr(d, attr) is not None else np.full(n, fill, dtype)
                    for n, d in parts
                ]
            )

        kind = np.concatenate([d.kind if d is not None else np.zeros(n, np.int8) for n, d in parts])
        indptr = codes = None
        if any(d.list_indptr is not None for d in datas):
            lengths = np.concatenate([d.list_lengths() if d is not None else np.zeros(n, np.int64) for n, d in parts])
            indptr = np.zeros(kind.size + 1, np.int64)
            np.cumsum(lengths, out=indptr[1:])
            codes = np.concatenate([_EMPTY_CODES] + [d.list_codes for d in datas if d.list_codes is not None])
        return _FieldData(kind, stack("str_codes", -1, np.int32), stack("num", np.nan, np.float64), indptr, codes)


class _FieldBuilder:
    """Collect one field's values from a batch of rows (the only per-row Python loop)."""

    __slots__ = ("vocab", "str_rows", "str_codes", "num_rows", "nums", "bool_rows", "bools", "list_rows",
                 "list_lengths", "list_codes")

    def __init__(self, vocab: _Vocab) -> None:
        self.vocab = vocab
        self.str_rows: list[int] = []
        self.str_codes: list[int] = []
        self.num_rows: list[int] = []
        self.nums: list[float] = []
        self.bool_rows: list[int] = []
        self.bools: list[bool] = []
        self.list_rows: list[int] = []
        self.list_lengths: list[int] = []
        self.list_codes: list[int] = []

    def add(self, row: int, value: Any, path: str) -> None:
        if isinstance(value, str):
            self.str_rows.append(row)
            self.str_codes.append(self.vocab.code(value))
        elif isinstance(value, (bool, np.bool_)):  # before numbers: bool is an int subclass
            self.bool_rows.append(row)
            self.bools.append(bool(value))
        elif isinstance(value, (int, float, np.integer, np.floating)):
            self.num_rows.append(row)
            self.nums.append(float(value))
        elif isinstance(value, (list, tuple)):
            for item in value:
                if not isinstance(item, str):
                    raise InvalidArgumentError(
                        f"metadata lists may hold only strings, got {type(item).__name__}", path=path
                    )
                self.list_codes.append(self.vocab.code(item))
            self.list_rows.append(row)
            self.list_lengths.append(len(value))
        else:
            raise InvalidArgumentError(
                f"metadata values must be a string, number, boolean or list of strings, got {type(value).__name__}",
                path=path,
            )

    def build(self, n: int) -> _FieldData:
        kind = np.zeros(n, np.int8)
        str_codes = num = indptr = codes = None
        if self.str_rows:
            kind[self.str_rows] = STR
            str_codes = np.full(n, -1, np.int32)
            str_codes[self.str_rows] = self.str_codes
        if self.num_rows:
            kind[self.num_rows] = NUM
            num = np.full(n, np.nan)
            num[self.num_rows] = self.nums
        if self.bool_rows:
            kind[self.bool_rows] = np.where(self.bools, TRUE, FALSE)
        if self.list_rows:
            kind[self.list_rows] = LIST
            lengths = np.zeros(n, np.int64)
            lengths[self.list_rows] = self.list_lengths
            indptr = np.zeros(n + 1, np.int64)
            np.cumsum(lengths, out=indptr[1:])
            codes = np.asarray(self.list_codes, np.int32)
        return _FieldData(kind, str_codes, num, indptr, codes)


class FieldColumn:
    """Answer one comparison for every row of one field, as a boolean mask (vectorised).

    These are the positive building blocks of a filter: a row holding a list of strings
    matches ``equals``/``isin`` when any element does. Negations and the missing-field policy
    are the filter's business (``toolkit.filters``).
    """

    __slots__ = ("_data", "_vocab")

    def __init__(self, data: _FieldData, vocab: _Vocab) -> None:
        self._data = data
        self._vocab = vocab

    @classmethod
    def absent(cls, n: int) -> FieldColumn:
        """Return a column of ``n`` rows that all lack the field."""
        return cls(_FieldData(np.zeros(n, np.int8)), _Vocab())

    def present(self) -> np.ndarray:
        """Return which rows hold the field (any type, including an empty list)."""
        out: np.ndarray = self._data.kind != ABSENT
        return out

    def equals(self, value: str | float | bool) -> np.ndarray:
        """Return which rows equal ``value``; bool never equals a number, strings are case-sensitive."""
        data = self._data
        out: np.ndarray
        if isinstance(value, (bool, np.bool_)):
            out = data.kind == (TRUE if value else FALSE)
            return out
        if isinstance(value, str):
            code = self._vocab.index.get(value)
            if code is None:  # a string the field never held
                return np.zeros(data.n, bool)
            out = data.str_codes == code if data.str_codes is not None else np.zeros(data.n, bool)
            if data.list_codes is not None:
                out[data.list_rows()[data.list_codes == code]] = True
            return out
        if data.num is None:
            return np.zeros(data.n, bool)
        out = data.num == float(value)  # NaN (not a number) never compares equal
        return out

    def isin(self, strings: Collection[str], numbers: np.ndarray) -> np.ndarray:
        """Return which rows equal one of ``strings`` or ``numbers`` (float64 array)."""
        data = self._data
        out = np.zeros(data.n, bool)
        codes = [c for c in (self._vocab.index.get(s) for s in strings) if c is not None]
        if codes:
            # A lookup table over the vocabulary whose extra last slot answers code -1 (no string);
            # sized from the codes too, so a concurrent append can never reach that slot.
            wanted = np.zeros(max(len(self._vocab), max(codes) + 1) + 1, bool)
            wanted[codes] = True
            if data.str_codes is not None:
                out |= wanted[data.str_codes]
            if data.list_codes is not None:
                out[data.list_rows()[wanted[data.list_codes]]] = True
        if data.num is not None and numbers.size:
            out |= np.isin(data.num, numbers)
        return out

    def compare(self, op: np.ufunc, bound: float) -> np.ndarray:
        """Return ``op(value, bound)`` for number rows; rows of any other type never match."""
        if self._data.num is None:
            return np.zeros(self._data.n, bool)
        out: np.ndarray = op(self._data.num, bound)  # NaN marks "not a number" and compares False
        return out

    def strings_where(self, hits: Callable[[np.ndarray], np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Return (rows whose string matches, rows that hold a string) for a vocabulary predicate.

        ``hits`` gets the field's distinct strings (object array, in code order) and returns a
        boolean per string, so a text predicate costs one call per distinct string, never a
        Python loop over rows. A list-of-strings row matches when any element does.
        """
        data = self._data
        holds = data.kind == STR
        out = np.zeros(data.n, bool)
        if data.list_codes is not None:
            holds |= data.kind == LIST
        strings = self._vocab.as_objects()  # a snapshot: every code the rows use is below its size
        if not strings.size or not holds.any():
            return out, holds
        table = np.zeros(strings.size + 1, bool)  # the extra last slot answers code -1
        table[:-1] = hits(strings)
        if data.str_codes is not None:
            out |= table[data.str_codes]
        if data.list_codes is not None and data.list_codes.size:
            out[data.list_rows()[table[data.list_codes]]] = True
        return out, holds


class MetadataColumns:
    """Store the flat metadata of a sequence of rows column by column (append-only).

    Rows without metadata (``None`` or ``{}``) simply lack every field. Thread-safe for one
    writer and many readers: ``append`` and the lazy consolidation share a lock.
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._n = 0
        self._fields: dict[str, _FieldData] = {}  # rows [0, self._n_consolidated)
        self._n_consolidated = 0
        self._pending: list[tuple[int, dict[str, _FieldData]]] = []
        self._vocabs: dict[str, _Vocab] = {}

    @classmethod
    def from_records(cls, metadatas: Iterable[Mapping[str, Any] | None]) -> MetadataColumns:
        """Build columns from validated metadata dicts (None = no metadata)."""
        out = cls()
        out.append(metadatas)
        return out

    def __len__(self) -> int:
        return self._n

    def __repr__(self) -> str:
        return f"MetadataColumns(rows={len(self)}, fields={self.fields()!r})"

    @property
    def nbytes(self) -> int:
        """Return the bytes held by the column arrays (vocabularies not counted)."""
        return sum(d.nbytes for d in self._consolidated().values())

    def append(self, metadatas: Iterable[Mapping[str, Any] | None]) -> None:
        """Add rows at the end; the batch is all-or-nothing if a value is not storable."""
        batch = list(metadatas)
        if not batch:
            return
        with self._lock:
            sizes = {name: len(v) for name, v in self._vocabs.items()}
            builders: dict[str, _FieldBuilder] = {}
            try:
                for row, metadata in enumerate(batch):
                    if not metadata:
                        continue
                    for name, value in metadata.items():
                        builder = builders.get(name)
                        if builder is None:
                            vocab = self._vocabs.get(name)
                            if vocab is None:
                                vocab = self._vocabs[name] = _Vocab()
                            builder = builders[name] = _FieldBuilder(vocab)
                        builder.add(row, value, f"metadata[{row}].{name}")
            except BaseException:
                # Leave the vocabularies as they were, so state() stays free of unused strings.
                for name in list(self._vocabs):
                    if name in sizes:
                        self._vocabs[name].truncate(sizes[name])
                    else:
                        del self._vocabs[name]
                raise
            self._pending.append((len(batch), {name: b.build(len(batch)) for name, b in builders.items()}))
            self._n += len(batch)

    def _consolidated(self) -> dict[str, _FieldData]:
        """Return one array set per field over all rows, merging pending batches first."""
        with self._lock:
            if self._pending:
                parts = [(self._n_consolidated, self._fields), *self._pending]
                names = dict.fromkeys(name for _, fields in parts for name in fields)
                self._fields = {name: _FieldData.concat([(n, f.get(name)) for n, f in parts]) for name in names}
                self._n_consolidated = self._n
                self._pending = []
            return self._fields

    def fields(self) -> list[str]:
        """Return the names of the fields some row holds, in order of first appearance."""
        return list(self._consolidated())

    def field(self, name: str) -> FieldColumn:
        """Return the column of ``name``; an unknown field is a column where every row lacks it."""
        with self._lock:
            data = self._consolidated().get(name)
            if data is None:
                return FieldColumn.absent(self._n)
            return FieldColumn(data, self._vocabs[name])

    def take(self, rows: np.ndarray) -> MetadataColumns:
        """Return the given rows, in the given order (an int index array or a boolean mask)."""
        rows = np.asarray(rows)
        if rows.dtype == bool:
            if rows.shape != (len(self),):
                raise IndexError(f"a boolean mask needs {len(self)} entries, got shape {rows.shape}")
            rows = np.flatnonzero(rows)
        rows = rows.astype(np.intp, copy=False).reshape(-1)
        n = len(self)
        if rows.size and (rows.min() < -n or rows.max() >= n):
            raise IndexError(f"row index out of range for {n} rows")
        rows = np.where(rows < 0, rows + n, rows)  # list gathers need non-negative positions
        out = MetadataColumns()
        with self._lock:
            for name, data in self._consolidated().items():
                taken = data.take(rows)
                if taken is not None:
                    out._fields[name], out._vocabs[name] = _compact(taken, self._vocabs[name])
        out._n = out._n_consolidated = int(rows.size)
        return out

    @staticmethod
    def concat(parts: Sequence[MetadataColumns]) -> MetadataColumns:
        """Stack several stores into a new one; vocabularies merge (a loop over strings, not rows)."""
        snapshots = []
        for part in parts:
            with part._lock:
                snapshots.append((len(part), part._consolidated(), dict(part._vocabs)))
        out = MetadataColumns()
        names = dict.fromkeys(name for _, fields, _ in snapshots for name in fields)
        for name in names:
            merged: _Vocab | None = None
            pieces: list[tuple[int, _FieldData | None]] = []
            for n, fields, vocabs in snapshots:
                data = fields.get(name)
                if data is not None:
                    vocab = vocabs[name]
                    if merged is None:
                        merged = vocab.copy()  # the first part keeps its codes
                    elif len(vocab):
                        remap = np.fromiter((merged.code(s) for s in vocab.strings), np.int32, len(vocab))
                        if not np.array_equal(remap, np.arange(len(vocab))):
                            data = data.remapped(remap)
                pieces.append((n, data))
            assert merged is not None
            out._fields[name] = _FieldData.concat(pieces)
            out._vocabs[name] = merged
        out._n = out._n_consolidated = sum(n for n, _, _ in snapshots)
        return out

    def state(self) -> dict[str, Any]:
        """Return the store as plain data: numpy arrays, lists of str and ints (read-only views).

        Layout: ``{"format", "n_rows", "fields": {name: {"kind", "str_codes", "num",
        "list_indptr", "list_codes", "vocab"}}}``; an array of length 0 stands for "no row of
        this field has that type".
        """
        fields: dict[str, Any] = {}
        with self._lock:
            for name, data in self._consolidated().items():
                fields[name] = {
                    "kind": _readonly(data.kind),
                    "str_codes": _readonly(data.str_codes, np.int32),
                    "num": _readonly(data.num, np.float64),
                    "list_indptr": _readonly(data.list_indptr, np.int64),
                    "list_codes": _readonly(data.list_codes, np.int32),
                    "vocab": list(self._vocabs[name].strings),
                }
            return {"format": STATE_FORMAT, "n_rows": self._n, "fields": fields}

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> MetadataColumns:
        """Rebuild a store saved by ``state()`` (arrays are used as given, e.g. memory-mapped)."""
        if state.get("format") != STATE_FORMAT:
            raise InternalError(f"not a metadata-columns state: format {state.get('format')!r}")
        n = int(state["n_rows"])
        out = cls()
        for name, saved in state["fields"].items():
            kind = np.asarray(saved["kind"], np.int8)
            vocab = _Vocab([str(s) for s in saved["vocab"]])
            data = _FieldData(
                kind,
                _optional(saved["str_codes"], np.int32, n, (n,)),
                _optional(saved["num"], np.float64, n, (n,)),
                _optional(saved["list_indptr"], np.int64, n, (n + 1,)),
                None,
            )
            if data.list_indptr is not None:
                data.list_codes = np.asarray(saved["list_codes"], np.int32)
            _check_restored(name, data, n, len(vocab))
            if kind.any():
                out._fields[name], out._vocabs[name] = data, vocab
        out._n = out._n_consolidated = n
        return out

    def to_records(self) -> list[dict[str, Any]]:
        """Return the rows as metadata dicts (numbers as float; for display and tests, not filters)."""
        fields = self._consolidated()
        out: list[dict[str, Any]] = [{} for _ in range(len(self))]
        for name, data in fields.items():
            strings = self._vocabs[name].as_objects()
            for rows, values in _decoded(data, strings):
                for row, value in zip(rows.tolist(), values):
                    out[row][name] = value
        return out

    def __eq__(self, other: object) -> bool:
        """Compare the stored values (not the codes), field by field, with numpy."""
        if not isinstance(other, MetadataColumns):
            return NotImplemented
        if len(self) != len(other):
            return False
        mine, theirs = self._consolidated(), other._consolidated()
        if mine.keys() != theirs.keys():
            return False
        for name in mine:
            a, b = mine[name], theirs[name]
            if not np.array_equal(a.kind, b.kind):
                return False
            decoded_a = _decoded(a, self._vocabs[name].as_objects(), as_lists=False)
            decoded_b = _decoded(b, other._vocabs[name].as_objects(), as_lists=False)
            for (rows_a, va), (rows_b, vb) in zip(decoded_a, decoded_b):
                if not (np.array_equal(rows_a, rows_b) and np.array_equal(va, vb)):
                    return False
        return True

    __hash__ = None  # type: ignore[assignment]  # mutable


def _compact(data: _FieldData, vocab: _Vocab) -> tuple[_FieldData, _Vocab]:
    """Drop the strings no row uses any more and renumber the codes (vectorised)."""
    used = data.used_codes()
    if used.size == len(vocab):
        return data, vocab.copy()
    remap = np.full(len(vocab), -1, np.int32)
    remap[used] = np.arange(used.size, dtype=np.int32)
    return data.remapped(remap), _Vocab(vocab.as_objects()[used].tolist())


def _decoded(data: _FieldData, strings: np.ndarray, *, as_lists: bool = True) -> list[tuple[np.ndarray, Any]]:
    """Return (rows, values) per value type: strings, numbers, booleans, then lists.

    With ``as_lists=False`` list rows come back as their lengths plus the flat elements,
    which is enough to compare two stores without a per-row loop.
    """
    out: list[tuple[np.ndarray, Any]] = []
    rows = np.flatnonzero(data.kind == STR)
    out.append((rows, strings[data.str_codes[rows]] if data.str_codes is not None else np.empty(0, object)))
    rows = np.flatnonzero(data.kind == NUM)
    out.append((rows, data.num[rows] if data.num is not None else np.empty(0)))
    rows = np.flatnonzero((data.kind == TRUE) | (data.kind == FALSE))
    out.append((rows, data.kind[rows] == TRUE))
    rows = np.flatnonzero(data.kind == LIST)
    if not rows.size:
        out.append((rows, np.empty(0, object)))
    elif not as_lists:
        lengths = data.list_lengths()
        out.append((lengths[rows], strings[data.list_codes]))
    else:
        assert data.list_indptr is not None and data.list_codes is not None
        flat = strings[data.list_codes].tolist()
        starts, ends = data.list_indptr[rows].tolist(), data.list_indptr[rows + 1].tolist()
        out.append((rows, [flat[s:e] for s, e in zip(starts, ends)]))
    if as_lists:
        out[0:3] = [(r, v.tolist()) for r, v in out[0:3]]
    return out


def _readonly(array: np.ndarray | None, dtype: Any = None) -> np.ndarray:
    if array is None:
        return np.empty(0, dtype)
    view = array.view()
    view.flags.writeable = False
    return view


def _optional(saved: Any, dtype: Any, n: int, shape: tuple[int]) -> np.ndarray | None:
    array = np.asarray(saved, dtype)
    if array.size == 0 and shape[0] != 0:
        return None
    if array.shape != shape:
        raise InternalError(f"damaged metadata-columns state: expected shape {shape}, got {array.shape}")
    return array


def _arrays_by_kind(data: _FieldData) -> list[tuple[int, np.ndarray | None]]:
    return [(STR, data.str_codes), (NUM, data.num), (LIST, data.list_indptr)]


def _size(array: np.ndarray | None) -> int:
    return 0 if array is None else int(array.size)


def _check_restored(name: str, data: _FieldData, n: int, vocab_size: int) -> None:
    """Reject a state whose arrays disagree with each other (cheap, vectorised checks)."""
    problem = None
    if data.kind.shape != (n,):
        problem = f"kind has shape {data.kind.shape}, expected ({n},)"
    elif any((data.kind == kind).any() and array is None for kind, array in _arrays_by_kind(data)):
        problem = "rows of some value type have no array holding their values"
    elif data.str_codes is not None and data.str_codes.size and (
        data.str_codes.min() < -1 or data.str_codes.max() >= vocab_size
    ):
        problem = "a string code is outside the vocabulary"
    elif data.list_codes is not None and data.list_codes.size and (
        data.list_codes.min() < 0 or data.list_codes.max() >= vocab_size
    ):
        problem = "a list code is outside the vocabulary"
    elif data.list_indptr is not None and data.list_indptr[-1] != _size(data.list_codes):
        problem = "list_indptr does not end at the number of list elements"
    if problem:
        raise InternalError(f"damaged metadata-columns state for field {name!r}: {problem}")


__all__ = ["MetadataColumns", "FieldColumn", "STATE_FORMAT"]
