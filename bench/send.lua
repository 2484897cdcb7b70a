-- wrk script: POST a message per request; prints a JSON summary line at the end.
-- Expects the environment variable PARLEY_BENCH_TOKEN; PARLEY_BENCH_PAUSE_MS (optional) is
-- how long, on average, each connection waits after a response before its next request (a
-- paced load; the waits are drawn from an exponential distribution, so connections do not
-- fire in bursts together).
wrk.method = "POST"
wrk.body = '{"text":"benchmark message"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("PARLEY_BENCH_TOKEN")
local pause = tonumber(os.getenv("PARLEY_BENCH_PAUSE_MS") or "0")
-- PARLEY_BENCH_RESPONSES (optional): a file to append "message_id seconds" to as each answer
-- arrives (wall clock, microseconds), so delivery can be timed from the send's response.
local responses = os.getenv("PARLEY_BENCH_RESPONSES") or ""
if responses ~= "" then
  local ffi = require("ffi")
  ffi.cdef[[
    typedef struct { long tv_sec; long tv_usec; } parley_timeval;
    int gettimeofday(parley_timeval *tv, void *tz);
  ]]
  local now = ffi.new("parley_timeval")
  local log = io.open(responses, "a")
  log:setvbuf("line")
  response = function(status, headers, body)
    ffi.C.gettimeofday(now, nil)
    local id = body:match('"message_id"%s*:%s*"([%x-]+)"')
    if id then
      log:write(string.format("%s %d.%06d\n", id, tonumber(now.tv_sec), tonumber(now.tv_usec)))
    end
  end
end
if pause > 0 then
  delay = function() return math.floor(-pause * math.log(1 - math.random())) end
end

done = function(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.status + summary.errors.timeout
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "errors": %d, "p50_us": %d, "p99_us": %d}\n',
    summary.requests, summary.duration, errors,
    latency:percentile(50), latency:percentile(99)))
end
