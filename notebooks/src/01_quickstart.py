CELLS = [
("md", """
# 01 · Quickstart

**Question:** how do you create an index, write records, query them (with and without a
metadata filter), fetch, update and delete them, split them into namespaces — and what does
each of those requests cost in read and write units?

Everything runs in memory on 2,000 seeded random 32-dimensional vectors.
"""),
("code", """
import warnings

warnings.filterwarnings("ignore", message="IProgress not found")  # tqdm without ipywidgets

import numpy as np
import pandas as pd

import toolkit

rng = np.random.default_rng(0)
N, DIM = 2_000, 32
GENRES = ["drama", "comedy", "documentary", "thriller"]
vectors = rng.normal(size=(N, DIM)).astype(np.float32)
genres = rng.choice(GENRES, size=N)
years = rng.integers(1990, 2025, size=N)
records = [
    {"id": f"film-{i:04d}", "values": vectors[i], "metadata": {"genre": str(genres[i]), "year": int(years[i])}}
    for i in range(N)
]
records[0]
"""),
("md", """
## Create an index

The control plane is `toolkit.Client`. An index has a fixed dimension and metric; the
`engine` argument picks the slab builder (the default, `"exact"`, is brute force).
"""),
("code", """
client = toolkit.Client()
client.create_index(name="films", dimension=DIM, metric="cosine", engine="exact")
index = client.Index("films")
client.describe_index("films")
"""),
("md", """
## Upsert

`upsert` takes dicts, tuples or `Vector`s. With `batch_size` it sends several requests (each at
most 1,000 records); the response carries the last request's LSN and the write units of all.
"""),
("code", """
upserted = index.upsert(vectors=records, namespace="catalog", batch_size=500, show_progress=False)
print(upserted.upserted_count, "records; last LSN", upserted.lsn, "; write units", upserted.usage.write_units)
index.describe_index_stats()
"""),
("md", "## Query\n\nThe nearest records to a query vector, best first. Every read reports the LSN it reflects."),
("code", """
query = vectors[7] + 0.1 * rng.normal(size=DIM).astype(np.float32)
resp = index.query(vector=query, top_k=5, namespace="catalog", include_metadata=True)
print("read units:", resp.usage.read_units, "| max_indexed_lsn:", resp.max_indexed_lsn)
pd.DataFrame([{"id": m.id, "score": m.score, **m.metadata} for m in resp.matches])
"""),
("md", """
## Query with a metadata filter

Filters use the MongoDB-like operators (`$eq`, `$in`, `$gte`, `$and`, ...). A filtered query
returns the best `top_k` records *among those that match*.
"""),
("code", """
flt = {"$and": [{"genre": {"$in": ["drama", "thriller"]}}, {"year": {"$gte": 2010}}]}
filtered = index.query(vector=query, top_k=5, namespace="catalog", filter=flt, include_metadata=True)
rows = pd.DataFrame([{"id": m.id, "score": m.score, **m.metadata} for m in filtered.matches])
all_match = bool(((rows.genre.isin(["drama", "thriller"])) & (rows.year >= 2010)).all())
print("every match satisfies the filter:", all_match)
rows
"""),
("md", "## Fetch, update, delete"),
("code", """
fetched = index.fetch(ids=["film-0001", "film-0002", "no-such-id"], namespace="catalog")
print("found:", sorted(fetched.vectors), "| read units:", fetched.usage.read_units)
fetched.vectors["film-0001"].metadata
"""),
("code", """
upd = index.update(id="film-0001", set_metadata={"genre": "comedy", "rating": 4.5}, namespace="catalog")
print("update LSN", upd.lsn, "| write units", upd.usage.write_units)
after_update = index.fetch(ids=["film-0001"], namespace="catalog").vectors["film-0001"].metadata
after_update
"""),
("code", """
before = index.describe_index_stats().namespaces["catalog"].vector_count
deleted = index.delete(ids=["film-0001", "film-0002"], namespace="catalog")
after = index.describe_index_stats().namespaces["catalog"].vector_count
gone = index.fetch(ids=["film-0001", "film-0002"], namespace="catalog").vectors
print(f"records {before} -> {after}; fetch after delete finds {len(gone)}; delete LSN {deleted.lsn}")
"""),
("md", """
## Namespaces

A namespace is a partition of the index: queries never cross namespaces, each has its own
LSN clock, and a query's read units depend on the size of the namespace it searches.
"""),
("code", """
for lang, count in (("en", 300), ("fr", 100)):
    index.upsert(vectors=[(f"{lang}-{i}", vectors[i], {"lang": lang}) for i in range(count)], namespace=lang)
pd.DataFrame([{"namespace": ns.name, "records": ns.record_count} for ns in index.list_namespaces()])
"""),
("code", """
per_ns = {ns: index.query(vector=query, top_k=3, namespace=ns).ids() for ns in ("en", "fr")}
merged = index.query_namespaces(vector=query, namespaces=["en", "fr"], metric="cosine", top_k=4)
print("per namespace:", per_ns)
print("merged across namespaces:", merged.ids(), "| read units (summed):", merged.usage.read_units)
"""),
("md", """
## Costs

`index.usage()` totals the billed units by operation and namespace, next to the work really
done (distance computations, bytes scanned) and wall time.
"""),
("code", """
usage = index.usage()
usage
"""),
("md", "## What the numbers show"),
("code", """
by_op = usage.groupby("operation")[["requests", "read_units_reported", "write_units"]].sum()
query_rows = usage[usage.operation == "query"]
catalog = usage[(usage.operation == "upsert") & (usage.namespace == "catalog")].iloc[0]
print(f"{N} records went into 'catalog' in {int(catalog.requests)} upsert requests for "
      f"{int(catalog.write_units)} write units ({catalog.write_units / N:.3f} WU per record of "
      f"{DIM} float32 values + metadata).")
print(f"Queries: {int(by_op.loc['query', 'requests'])} requests, {int(by_op.loc['query', 'read_units_reported'])} "
      f"read units billed, {int(query_rows.distance_computations.sum())} distance computations done.")
print(f"The filter was honoured by every match: {all_match}; the update merged metadata: "
      f"{after_update.get('genre') == 'comedy' and after_update.get('rating') == 4.5}; "
      f"the deleted records are gone: {len(gone) == 0} ({before} -> {after}).")
print(f"Namespaces {sorted(per_ns)} answer independently; query_namespaces merged them into "
      f"{len(merged.matches)} matches for {merged.usage.read_units} read units (one query's units per namespace).")
"""),
]
