/**
 * Wiring of OTLP trace export for `beat run`: on when OTEL_EXPORTER_OTLP_ENDPOINT (or
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set and OTEL_SDK_DISABLED is not "true", as for any
 * OpenTelemetry SDK. Off, nothing of OpenTelemetry is loaded (src/observe/otel-export.ts is
 * imported only here, and only then).
 */
import { BeatError, ErrorCode } from '../base/errors.js';
import { DEFAULTS } from '../base/defaults.js';
import { EVENTS } from '../base/log-events.js';
import type { Logger } from '../base/log.js';
import { VERSION } from '../base/version.js';
import { maskUrl } from '../config/url-parts.js';
import type { OtlpProtocol } from '../observe/otel-export.js';
import { RunSpanEvents } from '../observe/run-spans.js';
import type { SchedulerEvents } from '../ports/events.js';

// Tracing (src/observe/run-spans.ts), with OTEL_EXPORTER_OTLP_ENDPOINT set.
/** Run spans handed to the OpenTelemetry SDK per turn of the event loop: a burst's made a few at a time after it, holding up no timer or publish. */
const TRACE_SPANS_PER_TURN = 16;
/** Longest wait at shutdown for the last spans to be exported (the collector may be down). */
const TRACE_FLUSH_TIMEOUT_MS = 3000;

export interface Tracing {
  /** The sink of published runs: one span each. */
  readonly events: SchedulerEvents;
  /** Exports the spans still waiting, within TRACE_FLUSH_TIMEOUT_MS. */
  stop(): Promise<void>;
}

export interface TracingSettings {
  /** Where the SDK will send the spans (for the log line; the SDK reads the variables itself). */
  readonly endpoint: string;
  readonly protocol: OtlpProtocol;
}

const set = (value: string | undefined): string | undefined => (value === undefined || value.trim() === '' ? undefined : value.trim());

/** Whether `env` asks for trace export, and how; throws (exit 2) on a protocol tsbeat cannot speak. */
export function tracingSettings(env: NodeJS.ProcessEnv): TracingSettings | undefined {
  if (set(env['OTEL_SDK_DISABLED'])?.toLowerCase() === 'true') return undefined;
  const signal = set(env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT']);
  const base = set(env['OTEL_EXPORTER_OTLP_ENDPOINT']);
  if (signal === undefined && base === undefined) return undefined;
  const endpoint = signal ?? `${(base as string).replace(/\/+$/, '')}/v1/traces`;
  const name =
    env['OTEL_EXPORTER_OTLP_TRACES_PROTOCOL'] === undefined ? 'OTEL_EXPORTER_OTLP_PROTOCOL' : 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL';
  // http/protobuf is the specification's default.
  const protocol = set(env[name]) ?? 'http/protobuf';
  if (protocol !== 'http/protobuf' && protocol !== 'http/json') {
    throw new BeatError(
      ErrorCode.Usage,
      `${name}=${protocol}: tsbeat exports traces over OTLP/HTTP only; set it to http/protobuf (the default) or http/json, and point OTEL_EXPORTER_OTLP_ENDPOINT at the collector's HTTP port (4318 by default)${protocol === 'grpc' ? ' rather than its gRPC port (4317)' : ''}`,
    );
  }
  return { endpoint, protocol };
}

/** Starts trace export when `env` asks for it (see tracingSettings); undefined otherwise. */
export async function startTracing(options: {
  readonly env: NodeJS.ProcessEnv;
  readonly logger: Logger;
  readonly now: () => number;
  readonly instanceId: string;
  readonly deployment: string;
}): Promise<Tracing | undefined> {
  const settings = tracingSettings(options.env);
  if (settings === undefined) return undefined;
  const { logger } = options;
  const { startOtelExport } = await import('../observe/otel-export.js');
  const exporter = startOtelExport({
    protocol: settings.protocol,
    resource: {
      'service.name': 'tsbeat',
      'service.version': VERSION,
      'service.instance.id': options.instanceId,
      'tsbeat.deployment': options.deployment,
    },
    warn: rateLimited(logger, options.now),
  });
  const events = new RunSpanEvents({ writer: exporter.writer, now: options.now, perTurn: TRACE_SPANS_PER_TURN });
  logger.info(
    { event: EVENTS.tracingStart, endpoint: maskUrl(settings.endpoint), protocol: settings.protocol },
    `exporting a span per published run over OTLP (${settings.protocol}) to ${maskUrl(settings.endpoint)}`,
  );
  return {
    events,
    stop: async () => {
      events.flush();
      await exporter.shutdown(TRACE_FLUSH_TIMEOUT_MS);
    },
  };
}

/**
 * The SDK's warnings as log lines, at most one per DEFAULTS.traceWarnEveryMs: a collector that is
 * down fails every batch, every few seconds, and one line a minute says so.
 */
function rateLimited(logger: Logger, now: () => number): (message: string) => void {
  let lastMs = Number.NEGATIVE_INFINITY;
  let held = 0;
  return (message) => {
    const at = now();
    if (at - lastMs < DEFAULTS.traceWarnEveryMs) {
      held += 1;
      return;
    }
    lastMs = at;
    logger.warn(
      { event: EVENTS.tracingWarning, heldBack: held },
      `OpenTelemetry export: ${message}${held > 0 ? ` (${held} more warnings since the last one)` : ''}`,
    );
    held = 0;
  };
}
