-- wrk script for bench/soak.py: the stateless bulk of the soak's load.
--
-- Dataset list reads with the live keys in the file RELAY_SOAK_GOOD_KEYS (one per
-- line, never revoked: each must get 200), and, RELAY_SOAK_BAD_SHARE of the time
-- (a fraction), requests that must get 401: made-up keys of the right shape and
-- checksum (the file RELAY_SOAK_MADEUP_KEYS, never stored), malformed ones, none,
-- two. Each request names its kind in X-Request-ID, which Relay returns, so each
-- response is counted under its kind and status. Once a second it prints
--   soak <epoch second> <kind>:<status>=<count> ...
-- for the responses of the second before, and at the end one line
--   soak-end <epoch second> <kind>:<status>=<count> ... (the last second's), then
--   soak-summary requests=... connect=... read=... write=... timeout=... p50_us=... p99_us=...
threads = {}
counts = {} -- "kind status" -> responses since the last line printed
second = 0
local good, madeup = {}, {}
local bad_share
local paths = { "/api/v1/datasets", "/api/v1/datasets?page_size=5", "/api/v1/datasets?page=2&page_size=5" }

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  for line in io.lines(os.getenv("RELAY_SOAK_GOOD_KEYS")) do
    good[#good + 1] = line
  end
  for line in io.lines(os.getenv("RELAY_SOAK_MADEUP_KEYS")) do
    madeup[#madeup + 1] = line
  end
  bad_share = tonumber(os.getenv("RELAY_SOAK_BAD_SHARE"))
  math.randomseed(os.time())
end

local function get(kind, path, key)
  local headers = { ["X-Request-ID"] = "soak-" .. kind }
  if key ~= nil then
    headers["X-API-Key"] = key
  end
  return wrk.format("GET", path, headers)
end

-- Each must be refused with 401, most before any database work.
local malformed = {
  function(key) return key:sub(1, -2) .. (key:sub(-1) == "A" and "B" or "A") end, -- checksum
  function(key) return key:sub(1, -2) end, -- one character short
  function(key) return "rl_test_" .. key:sub(9) end, -- another prefix
  function(key) return "Bearer " .. key end,
  function(key) return key:lower() end,
  function(key) return key:sub(1, 20) .. "\195\169" .. key:sub(23) end, -- a UTF-8 é inside
  function(key) return string.rep(key, 40) end, -- 1,840 characters
  function(key) return "hunter2" end,
}

function request()
  local roll = math.random()
  if roll >= bad_share then
    return get("good", paths[math.random(#paths)], good[math.random(#good)])
  end
  local key = madeup[math.random(#madeup)]
  roll = roll / bad_share
  if roll < 0.5 then
    return get("madeup", paths[1], key)
  elseif roll < 0.9 then
    return get("malformed", paths[1], malformed[math.random(#malformed)](key))
  elseif roll < 0.95 then
    return get("missing", paths[1], nil)
  end
  -- Two X-API-Key headers (a live key and a made-up one) are refused, not chosen from.
  return "GET /api/v1/datasets HTTP/1.1\r\nHost: " .. wrk.headers["Host"] .. "\r\n"
    .. "X-API-Key: " .. good[math.random(#good)] .. "\r\nX-API-Key: " .. key .. "\r\n"
    .. "X-Request-ID: soak-twokeys\r\n\r\n"
end

local function counted(table_of_counts)
  local parts = {}
  for name, count in pairs(table_of_counts) do
    parts[#parts + 1] = name .. "=" .. count
  end
  return table.concat(parts, " ")
end

function response(status, headers, body)
  local now = os.time()
  if now ~= second then
    if second ~= 0 then
      io.stdout:write("soak ", second, " ", counted(counts), "\n")
      io.stdout:flush()
    end
    counts = {}
    second = now
  end
  local kind = headers["x-request-id"] or headers["X-Request-ID"] or "soak-unnamed"
  local name = kind:sub(6) .. ":" .. status
  counts[name] = (counts[name] or 0) + 1
end

function done(summary, latency, requests)
  for _, thread in ipairs(threads) do
    io.stdout:write("soak-end ", thread:get("second"), " ", counted(thread:get("counts")), "\n")
  end
  local errors = summary.errors
  io.stdout:write(
    "soak-summary requests=", summary.requests, " connect=", errors.connect, " read=", errors.read,
    " write=", errors.write, " timeout=", errors.timeout, " p50_us=", latency:percentile(50),
    " p99_us=", latency:percentile(99), " max_us=", latency.max, "\n"
  )
  io.stdout:flush()
end
