-- wrk script for bench/scale.py: each request carries the next of the first
-- RELAY_BENCH_KEY_COUNT keys in the file RELAY_BENCH_KEYS (one per line), in turn,
-- so every key in use is sent once per round.
local keys = {}
local next_key = 0

function init(args)
  local wanted = tonumber(os.getenv("RELAY_BENCH_KEY_COUNT"))
  for line in io.lines(os.getenv("RELAY_BENCH_KEYS")) do
    if #keys >= wanted then break end
    keys[#keys + 1] = line
  end
end

function request()
  next_key = next_key % #keys + 1
  return wrk.format("GET", nil, { ["X-API-Key"] = keys[next_key] })
end
