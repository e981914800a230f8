-- Replays the requests of a file, one per line: METHOD <tab> PATH <tab> HEADERS <tab> BODY, where
-- HEADERS is "name: value" pairs joined by "\n" written as the two characters \n. Each wrk thread
-- starts at its own place in the list and goes round it, so connections send different requests
-- (different users' tokens, different rows). Usage: wrk -s requests.lua URL -- FILE
local requests = {}
local n = 0
local i = 0

function setup(thread)
  thread_count = (thread_count or 0) + 1
  thread:set("offset", thread_count * 7919)
end

function init(args)
  for line in io.lines(args[1]) do
    local method, path, head, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t?(.*)$")
    local headers = {}
    for pair in (head .. "\\n"):gmatch("(.-)\\n") do
      local k, v = pair:match("^([^:]+):%s*(.*)$")
      if k then headers[k] = v end
    end
    n = n + 1
    requests[n] = wrk.format(method, path, headers, body ~= "" and body or nil)
  end
  i = (offset or 0) % n
end

function request()
  i = i % n + 1
  return requests[i]
end
