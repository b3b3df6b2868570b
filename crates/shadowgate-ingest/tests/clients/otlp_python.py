"""Exports metrics with the OpenTelemetry Python SDK's own OTLP/HTTP exporter, unmodified.

Usage: otlp_python.py ENDPOINT protobuf|json

The protobuf exporter is run with gzip compression and the JSON exporter with deflate, so that
both request encodings and both compressed body encodings reach the receiver from a real client.
"""

import sys

from opentelemetry.metrics import Observation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource

endpoint, encoding = sys.argv[1], sys.argv[2]
if encoding == "protobuf":
    from opentelemetry.exporter.otlp.proto.http import Compression
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

    exporter = OTLPMetricExporter(endpoint=endpoint, compression=Compression.Gzip)
else:
    from opentelemetry.exporter.otlp.common.http import Compression
    from opentelemetry.exporter.otlp.json.http.metric_exporter import OTLPMetricExporter

    exporter = OTLPMetricExporter(endpoint=endpoint, compression=Compression.DEFLATE)

reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
resource = Resource.create({"service.name": f"py-{encoding}", "service.instance.id": "instance-secret-42"})
provider = MeterProvider(resource=resource, metric_readers=[reader])
meter = provider.get_meter("shadowgate-client-test")

attributes = {"user.id": "alice@example.com", "client.address": "203.0.113.7", "http.request.method": "GET"}
orders = meter.create_counter("orders")
orders.add(5, attributes)
orders.add(2, attributes)
duration = meter.create_histogram("checkout.duration", unit="s")
for value in (0.004, 0.02, 0.3, 7.0):
    duration.record(value, attributes)
queue = meter.create_up_down_counter("queue.size")
queue.add(10)
queue.add(-3)
meter.create_observable_gauge("room.temperature", callbacks=[lambda options: [Observation(21.5, {"room": "lab"})]])

flushed = provider.force_flush(timeout_millis=60_000)
provider.shutdown()
print("exported" if flushed else "export failed")
sys.exit(0 if flushed else 1)
