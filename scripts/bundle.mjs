// One file of rayfleet for the watcher inside a Cloudera AI cluster, where there is Node (from the venv) but no npm install.
// `rayfleet cai setup` uploads it beside the proto file it reads.
import { build } from 'esbuild';

await build({
  entryPoints: ['bin/rayfleet.js'],
  outfile: 'dist/rayfleet.mjs',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  logLevel: 'warning',
  // The CommonJS inside (protobufjs, grpc) calls require; an ES module has none unless given one.
  banner: { js: "import { createRequire as __rayfleetRequire } from 'node:module'; const require = __rayfleetRequire(import.meta.url);" },
});
