-- wrk script for bench/e2e.sh: every request carries "Authorization: Bearer <token>", the tokens
-- taken in turn from a file of one token per line, so that a pool of N tokens repeats a token only
-- every N requests.
--
--   wrk ... -s bench/tokens.lua http://127.0.0.1:PORT/file -- TOKENS_FILE [START [THREADS]]
--
-- START (default 0) is where in the pool the run begins: e2e.sh moves it on by the number of
-- requests of the previous run, so that consecutive runs continue through the pool instead of
-- replaying its beginning (which a cache of verified tokens would still hold). With THREADS > 1,
-- each thread starts a further 1/THREADS of the pool on, so the threads do not send the same tokens.

local thread_count = 0

-- setup runs in wrk's main Lua state, once per thread, before the thread's init.
function setup(thread)
  thread:set("thread_index", thread_count)
  thread_count = thread_count + 1
end

local tokens = {}
local next_index = 1

function init(args)
  local path = args[1]
  if path == nil then
    error("tokens.lua: pass the tokens file after --")
  end
  for line in io.lines(path) do
    if line ~= "" then
      tokens[#tokens + 1] = "Bearer " .. line
    end
  end
  if #tokens == 0 then
    error("tokens.lua: " .. path .. " holds no tokens")
  end
  local start = tonumber(args[2] or "0") or 0
  local threads = tonumber(args[3] or "1") or 1
  local offset = start + math.floor(#tokens * (thread_index or 0) / threads)
  next_index = offset % #tokens + 1
end

local headers = {}

function request()
  headers["Authorization"] = tokens[next_index]
  next_index = next_index % #tokens + 1
  return wrk.format(nil, nil, headers)
end
