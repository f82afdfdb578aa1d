-- wrk's summary as one JSON line (wrk's own report has no P95): latency percentiles in
-- microseconds, requests, and errors of every kind (connect, read, write, timeout, non-2xx/3xx).
done = function(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    '\nLOADTEST {"requests": %d, "duration_us": %d, "p50_us": %d, "p95_us": %d, "p99_us": %d, "max_us": %d, ' ..
    '"connect_errors": %d, "read_errors": %d, "write_errors": %d, "timeouts": %d, "status_errors": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), latency.max, errors.connect, errors.read, errors.write, errors.timeout,
    errors.status))
end
