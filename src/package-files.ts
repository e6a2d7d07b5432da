// The files rayfleet ships beside its code (bin/, launchers/, proto/, dist/page/, the single-file build) and its own version.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * The package's root: one level above this module wherever it runs, for the compiled dist/package-files.js, for the
 * single-file dist/rayfleet.mjs it is bundled into (which the CLI runs), and for src/package-files.ts under tsx or vitest.
 */
const PACKAGE_ROOT = new URL('../', import.meta.url);

/** The absolute path of a file or directory of the package, e.g. `packageFile('proto/autoscaler.proto')`. */
export function packageFile(relative: string): string {
  return fileURLToPath(new URL(relative, PACKAGE_ROOT));
}

/**
 * A file the code reads at run time: the package's, or, in a Cloudera AI project, the one `rayfleet cai setup` put beside
 * the single-file bundle (which has no package around it; bundled, this module's URL is the bundle's). Undefined when
 * neither exists.
 */
export function shippedFile(inPackage: string, besideBundle: string): string | undefined {
  return [packageFile(inPackage), fileURLToPath(new URL(besideBundle, import.meta.url))].find((candidate) => existsSync(candidate));
}

/**
 * Written into the single-file bundle by scripts/bundle.mjs (esbuild's `define`): the bundle also runs inside a Cloudera
 * AI project, where no package.json is around it. Undeclared, and so `undefined` to `typeof`, everywhere else.
 */
declare const RAYFLEET_BUNDLED_VERSION: string | undefined;

/** rayfleet's own version, never npm_package_version (the version of whatever npm project it runs in): as bundled, else its package.json's. */
export function packageVersion(): string {
  if (typeof RAYFLEET_BUNDLED_VERSION === 'string') return RAYFLEET_BUNDLED_VERSION;
  return (JSON.parse(readFileSync(packageFile('package.json'), 'utf8')) as { version: string }).version;
}
