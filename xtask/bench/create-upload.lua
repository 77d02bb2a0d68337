-- wrk script: POST /api/v1/uploads (CSE) with a bearer token from the environment.
-- Each request makes the broker generate and wrap a data key, derive the key
-- commitment, build the S3EC metadata and presign the PUT.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("SEALDROP_TOKEN")
wrk.body = '{"name":"bench/object.bin","size":1048576,"mode":"cse","overwrite":true}'

done = function(summary, latency, requests)
  io.write(string.format(
    '{"name":"broker create-upload (CSE, local keyring)","requests":%d,"errors":%d,"rps":%.0f,"p50_ms":%.3f,"p90_ms":%.3f,"p99_ms":%.3f,"max_ms":%.3f}\n',
    summary.requests,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000))
end
