/**
 * The OpenAPI 3.1 document of the HTTP API (issue 65): a real validator (swagger-parser) accepts it,
 * every route the router serves is in it (read from the router, not from a list kept here), and
 * docs/openapi.json is the document the build wrote of these routes.
 */
import { readFileSync } from 'node:fs';
import SwaggerParser from '@apidevtools/swagger-parser';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/base/log.js';
import { apiApp, apiDocument } from '../../src/http/api-app.js';
import { BeatMetrics } from '../../src/observe/metrics.js';

type Document = { openapi: string; paths: Record<string, Record<string, unknown>> };

describe('the OpenAPI document', () => {
  const document = apiDocument() as Document;

  it('is valid OpenAPI 3.1 by swagger-parser', async () => {
    expect(document.openapi).toBe('3.1.0');
    await expect(SwaggerParser.validate(structuredClone(document) as never)).resolves.toBeDefined();
  });

  it('holds every route the router serves, each method of each path', () => {
    const app = apiApp(
      {
        metrics: new BeatMetrics({ processMetrics: false }),
        health: () => ({ ok: true, reason: 'test' }),
        ready: async () => ({ ok: true, reason: 'test' }),
        status: async () => ({}),
      },
      silentLogger,
    );
    const served = new Set(
      app.routes.filter((r) => r.method !== 'ALL').map((r) => `${r.method.toLowerCase()} ${r.path.replace(/:(\w+)/g, '{$1}')}`),
    );
    const described = new Set(Object.entries(document.paths).flatMap(([path, item]) => Object.keys(item).map((m) => `${m} ${path}`)));
    expect(served.size).toBeGreaterThan(20);
    expect([...served].filter((r) => !described.has(r))).toEqual([]);
    expect([...described].filter((r) => !served.has(r))).toEqual([]);
  });

  it('is what docs/openapi.json holds (npm run build writes it)', () => {
    const written = JSON.parse(readFileSync(new URL('../../docs/openapi.json', import.meta.url), 'utf8')) as unknown;
    expect(written).toEqual(JSON.parse(JSON.stringify(document)));
  });
});
