/** The environment variables tsbeat reads, in one place (the defaults they override are in defaults.ts). */
export const ENV = {
  config: 'BEAT_CONFIG',
  /** The broker URL, over the config's broker.url; CELERY_BROKER_URL is read after it. */
  brokerUrl: 'BEAT_BROKER_URL',
  celeryBrokerUrl: 'CELERY_BROKER_URL',
  /** The result backend URL, over the config's resultBackend (Celery's own variable). */
  celeryResultBackend: 'CELERY_RESULT_BACKEND',
  /** HOST:PORT of the HTTP endpoints (beat run --http). */
  http: 'BEAT_HTTP',
  /** The bearer token of the entries API's write methods (beat run --api-token-file reads it from a file instead). */
  apiToken: 'BEAT_API_TOKEN',
  /** The file of the API tokens (beat run --api-token-file over it): a mounted secret. */
  apiTokenFile: 'BEAT_API_TOKEN_FILE',
  /** The client secret of the dashboard's single sign-on (over the config's auth.oidc.clientSecretFile); never logged. */
  oidcClientSecret: 'BEAT_OIDC_CLIENT_SECRET',
  /** "1" or "true": /status and GET /api/entries answer clients beyond loopback without a token (beat run --http-public-reads). */
  httpPublicReads: 'BEAT_HTTP_PUBLIC_READS',
  /** Comma-separated host names that name this server besides localhost, 127.0.0.1, ::1 and the bound address (beat run --http-allowed-hosts). */
  httpAllowedHosts: 'BEAT_HTTP_ALLOWED_HOSTS',
  /** Comma-separated loopback client addresses not trusted as loopback: a reverse proxy on this host (beat run --http-not-loopback). */
  httpNotLoopback: 'BEAT_HTTP_NOT_LOOPBACK',
  /** "1" or "true": /metrics answers only requests with an API token (beat run --http-metrics-token-required). */
  httpMetricsTokenRequired: 'BEAT_HTTP_METRICS_TOKEN_REQUIRED',
  /** The terminal's width in columns, as shells export it: what the lines of beat status, history, check, … fit in (commands/io.ts). */
  columns: 'COLUMNS',
  /** "json" keeps JSON log lines even on a terminal (which otherwise gets readable lines). */
  logFormat: 'BEAT_LOG_FORMAT',
  /** The Django database URL (beat run --django-url), over the config's sources.django.url. */
  djangoUrl: 'BEAT_DJANGO_URL',
  /** Sentry Crons, as sentry-python reads them: the DSN (over the config's sentry.dsn), the environment and release (under the config's). */
  sentryDsn: 'SENTRY_DSN',
  sentryEnvironment: 'SENTRY_ENVIRONMENT',
  sentryRelease: 'SENTRY_RELEASE',
} as const;
