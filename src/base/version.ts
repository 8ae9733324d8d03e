/** The package version, read once from package.json (one source of truth). */
import { readFileSync } from 'node:fs';
import { packageJsonUrl } from './package-files.js';

export const VERSION: string = (JSON.parse(readFileSync(packageJsonUrl, 'utf8')) as { version: string }).version;
