"""Serves metrics with the Prometheus Python client's own exposition server, unmodified.

Prints `PORT <n>` once the server listens on 127.0.0.1, then serves until stdin closes.
"""

import sys

from prometheus_client import Counter, Gauge, Histogram, Info, Summary, start_http_server

jobs = Counter("jobs", "Jobs processed.", ["queue", "client_ip"])
jobs.labels(queue='tricky "quoted" \\ back\nslash', client_ip="198.51.100.23").inc(3)
jobs.labels(queue="plain", client_ip="198.51.100.24").inc()
Gauge("temperature_celsius", "Room temperature.").set(-2.5)
latency = Histogram("request_latency_seconds", "Latency.", buckets=(0.1, 1.0))
for value in (0.05, 0.5, 5.0):
    latency.observe(value)
Summary("payload_bytes", "Payload sizes.").observe(512)
Info("build", "Build information.").info({"version": "1.2.3"})

server, thread = start_http_server(0, addr="127.0.0.1")
print(f"PORT {server.server_port}", flush=True)
sys.stdin.read()
server.shutdown()
