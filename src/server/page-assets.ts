// The page's script and styles, bundled at build into dist/page (uPlot included): served from the package, never a CDN.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { shippedFile } from '../package-files.js';

const ASSETS = {
  'dashboard.js': 'text/javascript; charset=utf-8',
  'dashboard.css': 'text/css; charset=utf-8',
} as const;

export type AssetName = keyof typeof ASSETS;

export function isAssetName(name: string): name is AssetName {
  return Object.hasOwn(ASSETS, name);
}

/** The package's dist/page (running from the sources too: the last build's), or page/ beside the bundle in a Cloudera AI project. */
function assetsDir(): string | undefined {
  const script = shippedFile('dist/page/dashboard.js', './page/dashboard.js');
  return script === undefined ? undefined : `${path.dirname(script)}/`;
}

const cache = new Map<AssetName, Buffer>();

/** The asset's bytes and type, or undefined when the package was built without them. */
export async function readAsset(name: AssetName): Promise<{ body: Buffer; contentType: string } | undefined> {
  let body = cache.get(name);
  if (body === undefined) {
    const dir = assetsDir();
    if (dir === undefined) return undefined;
    body = await readFile(`${dir}${name}`);
    cache.set(name, body);
  }
  return { body, contentType: ASSETS[name] };
}
