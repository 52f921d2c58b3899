// Drive the official TypeScript SDK (npm @pinecone-database/pinecone 8.x, unmodified) against a
// toolkit server. Usage: TS_SDK_DIR=<dir with node_modules> node sdk_roundtrip.cjs <control URL> <api key>
// Prints one JSON object of observations; tests/test_server_ts.py asserts on it.
const path = require("path");
const { Pinecone } = require(path.join(process.env.TS_SDK_DIR, "node_modules", "@pinecone-database", "pinecone"));

async function main() {
  const [url, apiKey] = process.argv.slice(2);
  const pc = new Pinecone({ apiKey, controllerHostUrl: url });
  const name = `ts-${process.pid % 1000}`;
  const out = {};
  await pc.createIndex({ name, dimension: 3, metric: "cosine", spec: { serverless: { cloud: "aws", region: "us-east-1" } },
                         waitUntilReady: true });
  const model = await pc.describeIndex(name);
  out.host = model.host;
  const index = pc.index({ host: model.host });
  const ns = index.namespace("ns");
  await ns.upsert({ records: [
    { id: "a", values: [1, 0, 0], metadata: { g: "x" } },
    { id: "b", values: [0, 1, 0], metadata: { g: "y" } },
    { id: "c", values: [0, 0, 1], metadata: { g: "x" } },
  ] });
  const q = await ns.query({ vector: [1, 0, 0], topK: 2, includeMetadata: true });
  out.query = q.matches.map((m) => [m.id, m.metadata && m.metadata.g]);
  const f = await ns.fetch({ ids: ["b"] });
  out.fetch = Object.keys(f.records);
  const fm = await ns.fetchByMetadata({ filter: { g: { $eq: "x" } }, limit: 10 });
  out.fetchByMetadata = Object.keys(fm.records).sort();
  await ns.update({ id: "b", metadata: { g: "z" } });
  out.updated = (await ns.fetch({ ids: ["b"] })).records.b.metadata.g;
  const listed = await ns.listPaginated({ limit: 2 });
  out.listFirstPage = listed.vectors.map((v) => v.id);
  out.listHasNext = Boolean(listed.pagination && listed.pagination.next);
  await ns.deleteOne({ id: "a" });
  const stats = await index.describeIndexStats();
  out.statsNs = stats.namespaces.ns.recordCount;
  const created = await index.createNamespace({ name: "fresh" });
  out.created = created.name;
  const namespaces = await index.listNamespaces();
  out.namespaces = namespaces.namespaces.map((n) => n.name).sort();
  out.described = (await index.describeNamespace("ns")).recordCount;
  await index.deleteNamespace("fresh");   // the reported SyntaxError: Unexpected end of JSON input
  await index.deleteNamespace("ns");
  out.afterDelete = (await index.listNamespaces()).namespaces.map((n) => n.name);
  try {
    await ns.upsert({ records: [{ id: "bad", values: [1, 0] }] });
    out.badUpsert = "accepted";
  } catch (e) {
    out.badUpsert = e.name;
  }
  await pc.deleteIndex(name);
  console.log(JSON.stringify(out));
}

main().catch((e) => { console.error(e && e.stack ? e.stack : String(e)); process.exit(1); });
