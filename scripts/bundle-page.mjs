// The dashboard page's assets: web/dashboard.ts with uPlot in one script, and its styles with uPlot's, under dist/page.
import { build } from 'esbuild';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
await mkdir('dist/page', { recursive: true });
const { metafile } = await build({
  entryPoints: ['web/dashboard.ts'],
  outfile: 'dist/page/dashboard.js',
  bundle: true,
  minify: true,
  format: 'iife',
  target: 'es2022',
  legalComments: 'none',
  logLevel: 'warning',
  metafile: true,
});
// The page takes the API's types from src/server/api-schemas.ts; a value imported from there would bundle zod with it.
const strays = Object.keys(metafile.inputs).filter((input) => !input.startsWith('web/') && !input.startsWith('node_modules/uplot/'));
if (strays.length > 0) throw new Error(`the page bundles code from outside web/ and uPlot (import types only): ${strays.join(', ')}`);
const uplotCss = await readFile(require.resolve('uplot/dist/uPlot.min.css'), 'utf8');
await writeFile('dist/page/dashboard.css', `${uplotCss}\n${await readFile('web/dashboard.css', 'utf8')}`);
