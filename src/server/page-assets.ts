// The page's script and styles, bundled at build into dist/page (uPlot included): served from the package, never a CDN.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { packageFile } from '../package-files.js';

const ASSETS = {
  'dashboard.js': 'text/javascript; charset=utf-8',
  'dashboard.css': 'text/css; charset=utf-8',
} as const;

export type AssetName = keyof typeof ASSETS;

export function isAssetName(name: string): name is AssetName {
  return Object.hasOwn(ASSETS, name);
}

/**
 * The package's dist/page (running from the sources too: the last build's), or page/ beside the single-file bundle in a
 * Cloudera AI project, where `rayfleet cai setup` puts them (the head's dashboard has no package around it).
 */
function assetsDir(): string | undefined {
  const candidates = [packageFile('dist/page/'), fileURLToPath(new URL('./page/', import.meta.url))];
  return candidates.find((dir) => existsSync(`${dir}dashboard.js`));
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
