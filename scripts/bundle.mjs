// One file of rayfleet: what bin/rayfleet.js runs (it starts in half the time of the compiled modules), and the watcher
// inside a Cloudera AI cluster runs, where there is Node (from the venv) but no npm install. `rayfleet cai setup` uploads
// it beside the proto file it reads.
import { readFileSync } from 'node:fs';
import { build } from 'esbuild';

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));

await build({
  entryPoints: ['dist/cli/cli-process.js'],
  outfile: 'dist/rayfleet.mjs',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  logLevel: 'warning',
  // rayfleet's version written in: inside a Cloudera AI project the bundle has no package.json beside it (src/package-files.ts).
  define: { RAYFLEET_BUNDLED_VERSION: JSON.stringify(version) },
  // The CommonJS inside (protobufjs, grpc) calls require; an ES module has none unless given one.
  banner: { js: "import { createRequire as __rayfleetRequire } from 'node:module'; const require = __rayfleetRequire(import.meta.url);" },
});
