-- Replays the pre-signed POST /api/v1/payments of tests/bench/http_bench.py (and the orders
-- and order payments of tests/bench/orders_bench.py).
-- Thread n sends the requests of $BENCH_WRK_REQUESTS.n in order, each exactly once: a request
-- sent twice is a 401 replay (its nonce is spent), so the threads never share a file. Every
-- answer is counted by status; done() writes the counts, latency percentiles and the numbers
-- of the 201s ($BENCH_WRK_MATCH, a Lua pattern; the payment's out_trade_no by default) to
-- $BENCH_WRK_RESULTS for the harness to check against the database.
-- $BENCH_WRK_UNTIL_DONE=1: a fixed amount of work rather than a fixed time. Each thread
-- reports when its first request was sent and its last answered; the harness interrupts wrk
-- once every request is answered, and its rate is requests over that span. (A stopped
-- thread, or a delay between requests, would leave connections open and idle, and each
-- idle connection holds a sync gunicorn worker: the spare GETs cost less.)
local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clock, bench_timespec *now);
]]
local clock = ffi.new("bench_timespec")
local function now_us()
   ffi.C.clock_gettime(1, clock) -- CLOCK_MONOTONIC
   return tonumber(clock.tv_sec) * 1e6 + tonumber(clock.tv_nsec) / 1e3
end
local threads, next_id = {}, 0
local match = os.getenv("BENCH_WRK_MATCH") or '"out_trade_no":%s*"([^"]+)"'
local until_done = os.getenv("BENCH_WRK_UNTIL_DONE") == "1"

function setup(thread)
   thread:set("id", next_id)
   next_id = next_id + 1
   table.insert(threads, thread)
end

function init(args)
   -- Each entry is "<length>\n<raw HTTP request>": no parsing beyond a number per request.
   local file = assert(io.open(os.getenv("BENCH_WRK_REQUESTS") .. "." .. id, "rb"))
   queue = {}
   while true do
      local size = file:read("*l")
      if not size then break end
      queue[#queue + 1] = file:read(tonumber(size))
   end
   file:close()
   sent, answered, exhausted, real_answered, first_us, last_us = 0, 0, 0, 0, 0, 0
   statuses, created, samples = {}, {}, {}
   -- Out of requests: a cheap unsigned GET keeps the connection busy; its 200 counts as an
   -- error (the harness asks for more pre-signed requests) instead of replaying a signed one.
   fallback = wrk.format("GET", "/health")
end

function request()
   if sent < #queue then
      if sent == 0 then first_us = now_us() end
      sent = sent + 1
      return queue[sent]
   end
   exhausted = exhausted + 1
   return fallback
end

function response(status, headers, body)
   answered = answered + 1
   local spare = string.find(body or "", '"checks"', 1, true) -- the spare GET /health
   if not spare then
      real_answered = real_answered + 1
      last_us = now_us()
   end
   statuses[status] = (statuses[status] or 0) + 1
   local order = status == 201 and string.match(body, match)
   if order then
      created[#created + 1] = order
   elseif #samples < 5 and not (until_done and spare) then
      samples[#samples + 1] = status .. " " .. string.sub(string.gsub(body or "", "%s+", " "), 1, 300)
   end
end

function done(summary, latency, requests)
   local out = assert(io.open(os.getenv("BENCH_WRK_RESULTS"), "w"))
   out:write(string.format("duration_us %.0f\n", summary.duration))
   for _, kind in ipairs({ "connect", "read", "write", "timeout" }) do
      out:write(string.format("socket_%s %.0f\n", kind, summary.errors[kind]))
   end
   for _, p in ipairs({ 50, 90, 99 }) do
      out:write(string.format("p%d_us %.0f\n", p, latency:percentile(p)))
   end
   out:write(string.format("max_us %.0f\n", latency.max))
   local created, other, spare = 0, 0, 0
   for _, thread in ipairs(threads) do
      local id = thread:get("id")
      out:write(string.format("thread %d %.0f %.0f %.0f\n", id, thread:get("sent"), thread:get("answered"),
         thread:get("exhausted")))
      out:write(string.format("span %d %.0f %.0f %.0f\n", id, thread:get("first_us"), thread:get("last_us"),
         thread:get("sent") - thread:get("real_answered")))
      spare = spare + thread:get("exhausted")
      for status, n in pairs(thread:get("statuses")) do
         out:write(string.format("status %d %.0f\n", status, n))
         if status == 201 then created = created + n else other = other + n end
      end
      for _, order in ipairs(thread:get("created")) do
         out:write("created ", order, "\n")
      end
      for _, sample in ipairs(thread:get("samples")) do
         out:write("sample ", sample, "\n")
      end
   end
   out:close()
   print(string.format("201 Created: %d; other answers (errors): %d; spare requests sent: %d", created, other, spare))
end
