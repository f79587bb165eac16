"""OpenTelemetry for an extraction, printed to the console: the call, each attempt, why it was re-asked.

The console exporter stands in for Azure Monitor or any OTLP collector (see docs/observability.md). The
first answer fails a validator, so the trace shows a call span with two attempt spans, the first one
carrying the validation error that caused the re-ask; the metrics show tokens per attempt and one re-ask.

Run: python cookbook/telemetry_console.py
"""

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import ConsoleMetricExporter, PeriodicExportingMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor
from pydantic import BaseModel, field_validator

import instructor_az
from instructor_az.emulator import Emulator


class User(BaseModel):
    name: str
    age: int

    @field_validator("name")
    @classmethod
    def capitalized(cls, value: str) -> str:
        if not value[:1].isupper():
            raise ValueError("the name must start with a capital letter")
        return value


def main() -> None:
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
    trace.set_tracer_provider(tracer_provider)
    reader = PeriodicExportingMetricReader(ConsoleMetricExporter(), export_interval_millis=60_000)
    meter_provider = MeterProvider(metric_readers=[reader])
    metrics.set_meter_provider(meter_provider)

    emulator = Emulator(backend="scripted", region="Sweden Central")
    emulator.scripted.push({"name": "john", "age": 30}, {"name": "John", "age": 30})
    client = instructor_az.from_openai(emulator.client(), model="gpt-4o")

    tracer = trace.get_tracer("cookbook")
    with tracer.start_as_current_span("handle signup"):
        user = client.create(response_model=User, messages=[{"role": "user", "content": "john, 30"}])
    print("extracted:", user)

    meter_provider.force_flush()
    meter_provider.shutdown()
    tracer_provider.shutdown()
    emulator.close()


if __name__ == "__main__":
    main()
