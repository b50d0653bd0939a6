-- Replays the pre-signed POST /api/v1/payments of tests/bench/http_bench.py.
-- Thread n sends the requests of $BENCH_WRK_REQUESTS.n in order, each exactly once: a request
-- sent twice is a 401 replay (its nonce is spent), so the threads never share a file. Every
-- answer is counted by status; done() writes the counts, latency percentiles and the order
-- numbers of the 201s to $BENCH_WRK_RESULTS for the harness to check against the database.
local threads, next_id = {}, 0

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
   sent, answered, exhausted = 0, 0, 0
   statuses, created, samples = {}, {}, {}
   -- Out of requests: a cheap unsigned GET keeps the connection busy; its 200 counts as an
   -- error (the harness asks for more pre-signed requests) instead of replaying a signed one.
   fallback = wrk.format("GET", "/health")
end

function request()
   if sent < #queue then
      sent = sent + 1
      return queue[sent]
   end
   exhausted = exhausted + 1
   return fallback
end

function response(status, headers, body)
   answered = answered + 1
   statuses[status] = (statuses[status] or 0) + 1
   local order = status == 201 and string.match(body, '"out_trade_no":%s*"([^"]+)"')
   if order then
      created[#created + 1] = order
   elseif #samples < 5 then
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
