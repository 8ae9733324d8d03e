// Writes docs/openapi.json, the OpenAPI 3.1 document of `beat run --http` (src/http/api-routes.ts),
// from the build, as GET /api/openapi.json answers it; formatted as prettier formats the repository's
// JSON, so that `npm run format:check` holds. Run by `npm run build`; test/unit/openapi.test.ts
// fails when the file and the routes differ.
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { format, resolveConfig } from 'prettier';
import { apiDocument } from '../dist/http/api-app.js';

const target = new URL('../docs/openapi.json', import.meta.url);
// The container image's build copies no docs/ (Dockerfile): there the server serves the document and
// nothing is written.
if (existsSync(new URL('.', target))) {
  const options = (await resolveConfig(target.pathname)) ?? {};
  await writeFile(target, await format(JSON.stringify(apiDocument()), { ...options, parser: 'json' }));
}
