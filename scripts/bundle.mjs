// One file of rayfleet: what bin/rayfleet.js runs (it starts in half the time of the compiled modules), and the watcher
// inside a Cloudera AI cluster runs, where there is Node (from the venv) but no npm install. `rayfleet cai setup` uploads
// it beside the proto file it reads.
import { build } from 'esbuild';

await build({
  entryPoints: ['dist/cli/cli-process.js'],
  outfile: 'dist/rayfleet.mjs',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  logLevel: 'warning',
  // The CommonJS inside (protobufjs, grpc) calls require; an ES module has none unless given one.
  banner: { js: "import { createRequire as __rayfleetRequire } from 'node:module'; const require = __rayfleetRequire(import.meta.url);" },
});
