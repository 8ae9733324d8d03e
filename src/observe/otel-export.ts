/**
 * The OpenTelemetry JS SDK, set up to export tsbeat's run spans (run-spans.ts) over OTLP/HTTP: a
 * tracer provider with a BatchSpanProcessor (exports in the background, in batches, never on the
 * publish path) and the OTLP exporter of the chosen protocol. Every package is loaded when this
 * starts (load-on-first-use.ts), so a process without OTEL_EXPORTER_OTLP_ENDPOINT loads none.
 *
 * The SDK reads the standard environment itself: the endpoint (OTEL_EXPORTER_OTLP_ENDPOINT plus
 * /v1/traces, or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as is), OTEL_EXPORTER_OTLP_HEADERS, _TIMEOUT
 * and _COMPRESSION, OTEL_BSP_* for the batching, OTEL_TRACES_SAMPLER, and OTEL_SERVICE_NAME /
 * OTEL_RESOURCE_ATTRIBUTES for the resource (over the defaults given here).
 */
import type * as Api from '@opentelemetry/api';
import type * as HttpExporter from '@opentelemetry/exporter-trace-otlp-http';
import type * as ProtoExporter from '@opentelemetry/exporter-trace-otlp-proto';
import type * as Resources from '@opentelemetry/resources';
import type * as SdkTrace from '@opentelemetry/sdk-trace-base';
import { loadOnFirstUse } from '../base/load-on-first-use.js';
import { within } from '../base/within.js';
import type { RunSpan, SpanWriter } from './run-spans.js';

const api = loadOnFirstUse<typeof Api>('@opentelemetry/api');
const sdkTrace = loadOnFirstUse<typeof SdkTrace>('@opentelemetry/sdk-trace-base');
const resources = loadOnFirstUse<typeof Resources>('@opentelemetry/resources');
const httpJson = loadOnFirstUse<typeof HttpExporter>('@opentelemetry/exporter-trace-otlp-http');
const httpProtobuf = loadOnFirstUse<typeof ProtoExporter>('@opentelemetry/exporter-trace-otlp-proto');

/** The OTLP protocols tsbeat exports with (OTEL_EXPORTER_OTLP_PROTOCOL's values, less grpc). */
export type OtlpProtocol = 'http/protobuf' | 'http/json';

export interface OtelExportOptions {
  readonly protocol: OtlpProtocol;
  /** Resource attributes under OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES (which win). */
  readonly resource: Readonly<Record<string, string>>;
  /** The SDK's own warnings and errors (a collector that refuses or cannot be reached, spans dropped). */
  readonly warn: (message: string) => void;
}

export interface OtelExport {
  readonly writer: SpanWriter;
  /** Exports what is queued and stops, waiting at most `timeoutMs`; never rejects. */
  shutdown(timeoutMs: number): Promise<void>;
}

/**
 * Hands the tracer the ids of the span it is about to start. The SDK asks its IdGenerator for a
 * span id and, for a span with no parent, a trace id, synchronously inside `startSpan`: `write`
 * sets them just before, so the span gets the ids the run's traceparent already named.
 */
class PresetIds implements SdkTrace.IdGenerator {
  traceId = '';
  spanId = '';
  generateTraceId(): string {
    return this.traceId;
  }
  generateSpanId(): string {
    return this.spanId;
  }
}

export function startOtelExport(options: OtelExportOptions): OtelExport {
  const { SpanKind, ROOT_CONTEXT, diag, DiagLogLevel } = api();
  // The SDK reports through the global diag logger, silent unless one is set.
  diag.setLogger(
    {
      error: (message) => options.warn(message),
      warn: (message) => options.warn(message),
      info: () => undefined,
      debug: () => undefined,
      verbose: () => undefined,
    },
    { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true },
  );
  const exporter = options.protocol === 'http/json' ? new (httpJson().OTLPTraceExporter)() : new (httpProtobuf().OTLPTraceExporter)();
  const { defaultResource, resourceFromAttributes, detectResources, envDetector } = resources();
  const resource = defaultResource()
    .merge(resourceFromAttributes(options.resource))
    .merge(detectResources({ detectors: [envDetector] }));
  const ids = new PresetIds();
  const { BasicTracerProvider, BatchSpanProcessor } = sdkTrace();
  const provider = new BasicTracerProvider({
    resource,
    idGenerator: ids,
    spanProcessors: [new BatchSpanProcessor(exporter)],
  });
  const tracer = provider.getTracer('tsbeat', String(options.resource['service.version'] ?? ''));

  const write = (span: RunSpan): void => {
    ids.traceId = span.traceId;
    ids.spanId = span.spanId;
    // ROOT_CONTEXT: no parent, whatever context an embedding application made active, so the
    // trace id is ours too.
    const started = tracer.startSpan(
      span.name,
      { kind: SpanKind.PRODUCER, startTime: new Date(span.startMs), attributes: span.attributes },
      ROOT_CONTEXT,
    );
    started.end(new Date(span.endMs));
  };

  return {
    writer: {
      write: (span) => {
        try {
          write(span);
        } catch (error) {
          options.warn(`a run's span could not be recorded: ${error instanceof Error ? error.message : String(error)}`);
        }
      },
    },
    shutdown: async (timeoutMs) => {
      const shut = provider.shutdown().catch((error: unknown) => options.warn(String(error)));
      await within(shut, timeoutMs, () => undefined, { unref: true });
    },
  };
}
