-- wrk script for bench/callbacks.py: sends the pre-signed requests of the file named by
-- $BENCH_REQUESTS (a line is "<path?query>\t<body>") in order, each once; past the end it
-- repeats the last one and counts the overrun (the file was too short for the duration).
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  requests, sent, overrun = {}, 0, 0
  for line in io.lines(os.getenv("BENCH_REQUESTS")) do
    local path, body = line:match("^([^\t]*)\t(.*)$")
    requests[#requests + 1] = wrk.format("POST", path, {["Content-Type"] = "text/xml"}, body)
  end
end

function request()
  sent = sent + 1
  if sent > #requests then
    overrun = overrun + 1
    return requests[#requests]
  end
  return requests[sent]
end

function done(summary, latency, requests)
  local sent_total, overrun_total = 0, 0
  for _, thread in ipairs(threads) do
    sent_total = sent_total + thread:get("sent")
    overrun_total = overrun_total + thread:get("overrun")
  end
  io.write(string.format(
    'RESULT {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, ' ..
    '"non2xx": %d, "socket_errors": %d, "sent": %d, "overrun": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    summary.errors.status, summary.errors.connect + summary.errors.read +
    summary.errors.write + summary.errors.timeout, sent_total, overrun_total))
end
