// The files rayfleet ships beside its code: bin/, launchers/, proto/, dist/page/ and the single-file build.
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
