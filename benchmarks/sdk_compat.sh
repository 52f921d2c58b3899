#!/usr/bin/env bash
# Run the official Python SDK's own integration suite (tests/integration of
# pinecone-io/pinecone-python-client, from a copy you fetched yourself; nothing of it is kept in
# this project) against `python -m toolkit serve`, on REST, asyncio and gRPC.
#
#   . .venv/bin/activate   # the project's environment serves (PYTHON=... to pick another)
#   bash benchmarks/sdk_compat.sh /path/to/pinecone-python-client [pytest args...]
#   FILES="inference inference_async search search_async" bash benchmarks/sdk_compat.sh ...  # a subset
#
# A copy of the SDK repository at release 9.0.1 can be unpacked from a bare git mirror with
#   git --git-dir=/path/to/mirror.git archive v9.0.1 | tar -x -C /tmp/sdk
# Nothing is fetched at run time except the pinned SDK and test tools from the package registry.
#
# The suite's SDK version must match its tests: the copy used for benchmarks/results/sdk_compat.md
# is release 9.0.1, so this installs pinecone==9.0.1 into its own venv (SDK_VERSION to change).
# That SDK's gRPC client always dials TLS, so the server gets a throwaway CA-signed certificate
# (openssl) and the SDK trusts it through SSL_CERT_FILE. The server runs with an API key so the
# suite's bad-key tests can fail as they should.
set -euo pipefail
SDK_REPO=$(cd "$1" && pwd); shift
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${WORK:-$(mktemp -d)}
PORT=${PORT:-5970}
SDK_VERSION=${SDK_VERSION:-9.0.1}
python3 -m venv "$WORK/venv"
"$WORK/venv/bin/pip" install -q "pinecone==$SDK_VERSION" pytest pytest-asyncio pytest-timeout respx python-dotenv \
  anyio pytest-anyio
cd "$WORK"
printf "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n" > ext.cnf
EC=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
openssl req -x509 "${EC[@]}" -keyout ca.key -out ca.pem -days 2 -subj "/CN=toolkit test CA" 2>/dev/null
openssl req "${EC[@]}" -keyout key.pem -out leaf.csr -subj "/CN=127.0.0.1" 2>/dev/null
openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out cert.pem -days 2 -extfile ext.cnf 2>/dev/null
PYTHON=${PYTHON:-python}
(cd "$ROOT" && exec "$PYTHON" -m toolkit serve --port "$PORT" --log-level warning --api-key local \
   --tls-cert "$WORK/cert.pem" --tls-key "$WORK/key.pem") > "$WORK/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null' EXIT
for _ in $(seq 1 300); do curl -sf -H "Api-Key: local" "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.2; done
curl -sf -H "Api-Key: local" "http://127.0.0.1:$PORT/health" >/dev/null || { cat "$WORK/server.log"; exit 1; }
# In scope: everything but hosted services (assistant, admin/org, collections) and the preview API.
# Integrated inference (inference, search) runs against the local stand-in models (README: Integrated
# inference), so tests that assert the hosted models' exact dimensions or scores are reported apart.
DEFAULT_FILES="backups backups_async client client_async data_plane data_plane_async data_plane_extended
       data_plane_extended_async errors errors_async imports imports_async indexes indexes_async ingestion
       ingestion_async query_namespaces query_namespaces_async inference inference_async search search_async"
read -r -a FILES <<< "$(echo ${FILES:-$DEFAULT_FILES})"
PATHS=()
for f in "${FILES[@]}"; do PATHS+=("tests/integration/test_$f.py"); done
# The suite runs from a copy of its tests/ (and pyproject.toml, for its pytest settings) outside the
# repository: tests/ is a package, so pytest would put the repository root on sys.path and import the
# repository's own pinecone/ sources (without the compiled gRPC extension) instead of the installed SDK.
rm -rf "$WORK/suite" && mkdir -p "$WORK/suite"
cp -r "$SDK_REPO/tests" "$SDK_REPO/pyproject.toml" "$WORK/suite/"
cd "$WORK/suite"
PINECONE_CONTROLLER_HOST="http://127.0.0.1:$PORT" PINECONE_API_KEY=local SSL_CERT_FILE="$WORK/ca.pem" \
  "$WORK/venv/bin/python" -m pytest -p no:cacheprovider --timeout 300 -q -rA "${PATHS[@]}" "$@" | tee "$WORK/suite.log" || true
echo "log: $WORK/suite.log"
