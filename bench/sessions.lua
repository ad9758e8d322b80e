-- wrk script of `npm run bench` (bench/run.ts): every request initiates a session with a new
-- person — POST /sessions with an inline contact, that phone as the account, and the WhatsApp
-- template order_update — on one of the given live chats in turn.
--
--   wrk ... -s bench/sessions.lua <url> -- <prefix digit> <answers file or -> <liveChatId>...
--
-- Phones are real-world German mobile numbers, +49151 and 8 digits: the round's prefix digit,
-- the thread's number and a counter (up to 999,999 per thread and round), so unique in a run
-- whose rounds each have their own prefix. The phone parser is strict: numbers of unallocated
-- ranges are refused, or cost it much more.
--
-- Answers other than 201 are counted by status. With an answers file, the time of every 201
-- (wall clock, µs) is written there beside the account's digits, for the 201 → provider lag.
-- done() prints one line, `BENCH_RESULT {json}`.

local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
  int clock_gettime(int clock_id, bench_timespec *tp);
]]
local CLOCK_REALTIME = 0
local now = ffi.new("bench_timespec")
local function wall_clock_us()
  ffi.C.clock_gettime(CLOCK_REALTIME, now)
  return tonumber(now.tv_sec) * 1e6 + tonumber(now.tv_nsec) / 1e3
end

local threads = {}

function setup(thread)
  threads[#threads + 1] = thread
  thread:set("thread_number", #threads)
end

function init(args)
  if thread_number > 9 then error("at most 9 threads: the thread's number is one digit of the phone") end
  prefix = args[1]
  answers_file = args[2]
  record = answers_file ~= "-"
  live_chats = {}
  for i = 3, #args do live_chats[#live_chats + 1] = args[i] end
  counter = 0
  created = 0
  others = {}
  accounts = {}
  answered_at = {}
end

function request()
  counter = counter + 1
  local phone = string.format("+49151%s%d%06d", prefix, thread_number, counter)
  local body = '{"liveChatId":"' .. live_chats[counter % #live_chats + 1] ..
    '","operatorId":"op-bench","contact":{"name":"Bench Person","phones":["' .. phone ..
    '"]},"account":"' .. phone ..
    '","message":{"template":{"name":"order_update","language":"en_US","parameters":["Bench"]}}}'
  return wrk.format("POST", "/sessions", nil, body)
end

function response(status, headers, body)
  if status == 201 then
    created = created + 1
    if record then
      accounts[created] = string.match(body, '"account":"%+(%d+)"') or ""
      answered_at[created] = wall_clock_us()
    end
  else
    others[status] = (others[status] or 0) + 1
  end
end

function done(summary, latency, requests)
  local created_all, others_all = 0, {}
  local file = nil
  for _, thread in ipairs(threads) do
    created_all = created_all + thread:get("created")
    for status, n in pairs(thread:get("others")) do others_all[status] = (others_all[status] or 0) + n end
    if thread:get("record") then
      file = file or io.open(thread:get("answers_file"), "w")
      local accounts, times = thread:get("accounts"), thread:get("answered_at")
      for i = 1, #accounts do file:write(accounts[i], " ", string.format("%.0f", times[i]), "\n") end
    end
  end
  if file then file:close() end
  local statuses = {}
  for status, n in pairs(others_all) do statuses[#statuses + 1] = string.format('"%d":%d', status, n) end
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"created":%d,"others":{%s},"durationUs":%d,"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},"p50Us":%d,"p99Us":%d}\n',
    created_all, table.concat(statuses, ","), summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    math.floor(latency:percentile(50)), math.floor(latency:percentile(99))))
end
