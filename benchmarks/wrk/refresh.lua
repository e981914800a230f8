-- Token refresh with rotation: every answer carries the next refresh token, which goes back into
-- the thread's queue; each request takes one from it (a token is sent once). Usage:
-- wrk -s refresh.lua URL -- FILE_OF_TOKENS PATH HEADERS   (HEADERS as in requests.lua)
local queue = {}
local path, headers

function setup(thread)
  thread_count = (thread_count or 0) + 1
  thread:set("index", thread_count)
end

function init(args)
  local k = 0
  for token in io.lines(args[1]) do
    k = k + 1
    -- thread n takes every second token starting at n (wrk's default -t2; more threads: set "threads")
    if (k - index) % (tonumber(args[4]) or 2) == 0 then queue[#queue + 1] = token end
  end
  path = args[2]
  headers = {}
  for pair in (args[3] .. "\\n"):gmatch("(.-)\\n") do
    local name, value = pair:match("^([^:]+):%s*(.*)$")
    if name then headers[name] = value end
  end
end

function request()
  local token = table.remove(queue, 1)
  return wrk.format("POST", path, headers, '{"refresh_token":"' .. (token or "none") .. '"}')
end

function response(status, headers, body)
  local token = body:match('"refresh_token"%s*:%s*"([^"]+)"')
  if token then queue[#queue + 1] = token end
end
