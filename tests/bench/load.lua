-- The load `make bench` drives with wrk: one request per user, users spread over
-- several flags and environments, so that no cache sees the same request twice in a row.
--
--   wrk -t1 -c32 -d8s -s load.lua URL -- MODE USERS FLAGS KEYS
--
-- MODE: "evaluate" (GET /evaluate?user_id&flag_name) or "ofrep" (POST the OFREP bulk
-- evaluation with a targetingKey); FLAGS: comma-separated flag names; KEYS:
-- comma-separated API keys, one per environment, each bound to its environment.
-- User i asks for flag i mod #FLAGS with key i mod #KEYS. All requests are formatted
-- once in init, so that wrk spends as little as possible per request, and the same
-- bytes go to the hello target, which answers every path.
-- done() prints one machine-readable line: counts, and latency percentiles in µs.

local prepared = {}
local next_index = 0

local function split(text)
  local parts = {}
  for part in string.gmatch(text, "[^,]+") do
    parts[#parts + 1] = part
  end
  return parts
end

function init(args)
  local mode, users = args[1], tonumber(args[2])
  local flags, keys = split(args[3]), split(args[4])
  for i = 0, users - 1 do
    local user = "user-" .. i
    local headers = { ["Authorization"] = "Bearer " .. keys[(i % #keys) + 1] }
    if mode == "ofrep" then
      headers["Content-Type"] = "application/json"
      local body = '{"context":{"targetingKey":"' .. user .. '"}}'
      prepared[i + 1] = wrk.format("POST", "/ofrep/v1/evaluate/flags", headers, body)
    else
      local flag = flags[(i % #flags) + 1]
      local path = "/evaluate?user_id=" .. user .. "&flag_name=" .. flag
      prepared[i + 1] = wrk.format("GET", path, headers)
    end
  end
end

function request()
  next_index = next_index % #prepared + 1
  return prepared[next_index]
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d p50_us=%d p99_us=%d non2xx=%d socket_errors=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    errors.status, errors.connect + errors.read + errors.write + errors.timeout
  ))
end
