// rayfleet's own version, never the version of the npm project it happens to run in (npm_package_version is that one's).
import { readFileSync } from 'node:fs';
import { packageFile } from './package-files.js';

/**
 * Written into the single-file bundle by scripts/bundle.mjs (esbuild's `define`): the bundle also runs inside a Cloudera
 * AI project, where no package.json is around it. Undeclared, and so `undefined` to `typeof`, everywhere else.
 */
declare const RAYFLEET_BUNDLED_VERSION: string | undefined;

/** The `version` of rayfleet's package.json: as bundled, else read from the package this module is part of. */
export function packageVersion(): string {
  if (typeof RAYFLEET_BUNDLED_VERSION === 'string') return RAYFLEET_BUNDLED_VERSION;
  return (JSON.parse(readFileSync(packageFile('package.json'), 'utf8')) as { version: string }).version;
}
