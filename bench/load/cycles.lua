-- wrk script: whole gated cycles, each a state machine on one connection (run with as many
-- threads as connections, -tN -cN): submit a proposal that waits (agent), approve it with
-- the digest seen (approver), claim it (agent), report it executed (agent).
-- usage: AGENT_TOKEN=... APPROVER_TOKEN=... wrk -t16 -c16 -d10s -s cycles.lua http://127.0.0.1:PORT
local agent = "Bearer " .. os.getenv("AGENT_TOKEN")
local approver = "Bearer " .. os.getenv("APPROVER_TOKEN")
local threads = {}

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  step, n, cycles, errors = 1, 0, 0, 0
  request_id, digest, claim = nil, nil, nil
end

local function post(path, auth, body)
  return wrk.format("POST", path, {["Authorization"] = auth, ["Content-Type"] = "application/json"}, body)
end

function request()
  if step == 1 then
    n = n + 1
    local body = string.format(
      '{"call":{"tool":"refund","args":{"amount":900,"order":"o-%d-%d"},"context":{"tier":"standard"}},' ..
      '"identity":{"user":"uma","tenant":"acme"},"run_id":"load-%d","tool_call_id":"c-%d"}', id, n, id, n)
    return post("/v1/requests", agent, body)
  elseif step == 2 then
    return post("/v1/requests/" .. request_id .. "/decisions", approver,
      '{"decision":"approve","digest":"' .. digest .. '"}')
  elseif step == 3 then
    return post("/v1/requests/" .. request_id .. "/claim", agent, "{}")
  else
    return post("/v1/requests/" .. request_id .. "/report", agent,
      '{"claim":"' .. claim .. '","outcome":"executed"}')
  end
end

function response(status, headers, body)
  if status ~= 200 then
    errors = errors + 1
    step = 1
    return
  end
  if step == 1 then
    request_id = string.match(body, '"request":"([^"]+)"')
    digest = string.match(body, '"digest":"([^"]+)"')
    if request_id == nil or digest == nil then errors = errors + 1; return end
    step = 2
  elseif step == 2 then
    step = 3
  elseif step == 3 then
    claim = string.match(body, '"claim":"([^"]+)"')
    if claim == nil then errors = errors + 1; step = 1; return end
    step = 4
  else
    cycles = cycles + 1
    step = 1
  end
end

function done(summary, latency, requests)
  local total_cycles, total_errors = 0, 0
  for _, t in ipairs(threads) do
    total_cycles = total_cycles + t:get("cycles")
    total_errors = total_errors + t:get("errors")
  end
  io.write(string.format("cycles %d\nerrors %d\nseconds %.3f\n",
    total_cycles, total_errors, summary.duration / 1e6))
end
