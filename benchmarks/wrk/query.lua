-- wrk script: POST query bodies (one JSON object per line of the file given after "--"),
-- rotating through them; prints one JSON line of results at the end.
--   wrk -t1 -c8 -d3s -s benchmarks/wrk/query.lua http://127.0.0.1:PORT/index/bench/query -- bodies.txt

local bodies = {}
local n = 0

function init(args)
  local file = assert(io.open(args[1], "r"))
  for line in file:lines() do
    if #line > 0 then
      bodies[#bodies + 1] = line
    end
  end
  file:close()
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Api-Key"] = "bench"
end

function request()
  n = n + 1
  return wrk.format(nil, nil, nil, bodies[(n % #bodies) + 1])
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "non_2xx": %d, "socket_errors": %d, '
      .. '"p50_ms": %.3f, "p99_ms": %.3f, "mean_ms": %.3f}\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.mean / 1000))
end
