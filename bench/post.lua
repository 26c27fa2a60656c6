-- wrk script of bench/run: every request posts one JSON lead to /contact
-- with an email address never used before (run tag + thread + counter),
-- the marketing box ticked on every other request. done() prints one
-- RESULT line for bench/run to parse; latencies are in microseconds.
--
-- Usage: wrk ... -s post.lua URL -- RUNTAG

local next_id = 1

function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
end

local tag, id, n
local headers = { ["Content-Type"] = "application/json", ["Accept"] = "application/json" }

function init(args)
  id = tid or 0 -- the global set by setup() in this thread's Lua state
  math.randomseed(os.time() * 1000 + id)
  tag = (args[1] or "run") .. string.format("%06x", math.random(0, 0xffffff))
  n = 0
end

function request()
  n = n + 1
  local consent = (n % 2 == 0) and "true" or "false"
  local body = string.format(
    '{"name":"Bench Lead %d","email":"lead-%s-%d-%d@example.com","message":"Please call me about a quote for %d units.","marketing_consent":%s}',
    n, tag, id, n, n, consent)
  return wrk.format("POST", "/contact", headers, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d status_errors=%d connect=%d read=%d write=%d timeout=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.status, e.connect, e.read, e.write, e.timeout))
end
