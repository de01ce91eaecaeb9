-- wrk script: POST /v1/decisions with a gated call (a 900 refund: approve), as an agent.
-- usage: AGENT_TOKEN=... wrk -t2 -c64 -d10s -s decisions.lua http://127.0.0.1:PORT
wrk.method = "POST"
wrk.path = "/v1/decisions"
wrk.body = '{"tool":"refund","args":{"amount":900,"order":"o-1"},"context":{"tier":"standard"}}'
wrk.headers["Authorization"] = "Bearer " .. os.getenv("AGENT_TOKEN")
wrk.headers["Content-Type"] = "application/json"
