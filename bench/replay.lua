-- wrk script: like post.lua, but every request of the run posts the same
-- submission (one address, one message, the box ticked): a bot replaying
-- one address, or a double click a thousand times over. The first is
-- stored, every other one is answered as its duplicate. Prints the same
-- RESULT line as post.lua.
--
-- Usage: wrk ... -s replay.lua URL -- RUNTAG [ticked|unticked]

local body
local headers = { ["Content-Type"] = "application/json", ["Accept"] = "application/json" }

function init(args)
  local tag = args[1] or "replay"
  local consent = (args[2] == "unticked") and "false" or "true"
  body = string.format(
    '{"name":"Bench Replay","email":"replay-%s@example.com","message":"Please call me about a quote.","marketing_consent":%s}',
    tag, consent)
end

function request()
  return wrk.format("POST", "/contact", headers, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d status_errors=%d connect=%d read=%d write=%d timeout=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.status, e.connect, e.read, e.write, e.timeout))
end
