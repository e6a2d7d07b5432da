// A local directory as a Ray package: the files Ray would take (.gitignore and .rayignore honoured, .git never), zipped, named by content.
import { createHash } from 'node:crypto';
import { readFile, readdir, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import ignore, { type Ignore } from 'ignore';
import yazl from 'yazl';
import { RayfleetError, messageOf } from '../errors.js';

/**
 * The largest package Ray takes over its REST API: the dashboard's request body limit (`DASHBOARD_CLIENT_MAX_SIZE`,
 * 100 MiB in Ray 2.60); a bigger upload fails with an opaque HTTPRequestEntityTooLarge (ray-project/ray #45602, #55877).
 */
export const RAY_PACKAGE_MAX_BYTES = 100 * 1024 * 1024;

/** How many of the largest files and folders a refusal names. */
const LARGEST_SHOWN = 5;

/** Every file's zip entry gets this time, so the same files make the same bytes and the same name (Ray unzips without restoring times). */
const FIXED_MTIME = new Date('2000-01-01T00:00:00Z');

export interface PackageFile {
  /** The path inside the package, with `/`. */
  entry: string;
  absolutePath: string;
  size: number;
  mode: number;
}

export interface RayPackage {
  /** `gcs://_ray_pkg_<hash>.zip`: what a runtime env names in place of the local path. */
  uri: string;
  /** `_ray_pkg_<hash>.zip`: the name in `PUT /api/packages/gcs/<name>`. */
  name: string;
  zip: Buffer;
  files: number;
  /** The files' size before compression. */
  sourceBytes: number;
}

export interface PackOptions {
  /** Gitignore-style patterns from the runtime env's `excludes`, relative to the directory. */
  excludes?: string[] | undefined;
  /** Puts every entry under the directory's own name (`py_modules`: the module is the folder). */
  underDirectoryName?: boolean | undefined;
  /** The refusal threshold; Ray's limit unless a test says otherwise. */
  maxBytes?: number | undefined;
}

/** The ignore rules of one directory, with the directory they are relative to. */
interface IgnoreScope {
  base: string;
  rules: Ignore;
}

/** The files of `directory` that go into its package, sorted; the same rules Ray's own `ray job submit` applies, plus `.git` left out. */
export async function listPackageFiles(directory: string, excludes: string[] = []): Promise<PackageFile[]> {
  const root = path.resolve(directory);
  const rootStat = await stat(root).catch((error: unknown) => {
    throw new RayfleetError('USAGE', `${directory} cannot be packaged: ${messageOf(error)}`, { cause: error });
  });
  if (!rootStat.isDirectory()) throw new RayfleetError('USAGE', `${directory} is not a directory`);
  const files: PackageFile[] = [];
  const scopes: IgnoreScope[] = excludes.length > 0 ? [{ base: root, rules: ignore().add(excludes) }] : [];
  // Symlinked folders are followed as Ray follows them, once each, so a link loop cannot recurse forever.
  const visited = new Set<string>([await realpath(root)]);

  const walk = async (dir: string, inherited: IgnoreScope[]): Promise<void> => {
    const scopesHere = [...inherited];
    for (const file of ['.gitignore', '.rayignore']) {
      const text = await readFile(path.join(dir, file), 'utf8').catch(() => undefined);
      if (text !== undefined) scopesHere.push({ base: dir, rules: ignore().add(text) });
    }
    const names = (await readdir(dir)).sort();
    for (const name of names) {
      if (name === '.git') continue;
      const absolutePath = path.join(dir, name);
      const info = await stat(absolutePath).catch(() => undefined);
      // A dangling link or a file removed meanwhile has nothing to pack.
      if (info === undefined) continue;
      const isDirectory = info.isDirectory();
      if (isIgnored(scopesHere, absolutePath, isDirectory)) continue;
      if (isDirectory) {
        const real = await realpath(absolutePath);
        if (visited.has(real)) continue;
        visited.add(real);
        await walk(absolutePath, scopesHere);
      } else if (info.isFile()) {
        files.push({ entry: path.relative(root, absolutePath).split(path.sep).join('/'), absolutePath, size: info.size, mode: info.mode });
      }
    }
  };
  await walk(root, scopes);
  return files;
}

function isIgnored(scopes: IgnoreScope[], absolutePath: string, isDirectory: boolean): boolean {
  return scopes.some(({ base, rules }) => {
    const relative = path.relative(base, absolutePath).split(path.sep).join('/');
    return rules.ignores(isDirectory ? `${relative}/` : relative);
  });
}

/**
 * Zips the directory's files and names the zip by its bytes, as Ray names an uploaded package. A package over Ray's limit
 * is refused before anything is sent, naming the largest files and folders; zipping stops as soon as the limit is passed.
 */
export async function packDirectory(directory: string, options: PackOptions = {}): Promise<RayPackage> {
  const maxBytes = options.maxBytes ?? RAY_PACKAGE_MAX_BYTES;
  const files = await listPackageFiles(directory, options.excludes);
  const prefix = options.underDirectoryName === true ? `${path.basename(path.resolve(directory))}/` : '';
  const zip = new yazl.ZipFile();
  for (const file of files) zip.addFile(file.absolutePath, `${prefix}${file.entry}`, { mtime: FIXED_MTIME, mode: file.mode });
  zip.end();
  const chunks: Buffer[] = [];
  let size = 0;
  let tooLarge = false;
  await new Promise<void>((resolve, reject) => {
    const output = zip.outputStream;
    output.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size >= maxBytes) {
        tooLarge = true;
        // Stop reading: the rest would only be thrown away.
        output.removeAllListeners('data');
        output.pause();
        resolve();
        return;
      }
      chunks.push(chunk);
    });
    output.once('end', () => resolve());
    output.once('error', reject);
    zip.once('error', reject);
  });
  if (tooLarge) throw tooLargeError(directory, files, maxBytes);
  const bytes = Buffer.concat(chunks);
  const name = `_ray_pkg_${createHash('sha1').update(bytes).digest('hex')}.zip`;
  return { uri: `gcs://${name}`, name, zip: bytes, files: files.length, sourceBytes: files.reduce((sum, file) => sum + file.size, 0) };
}

/** The refusal: what to leave out, biggest first, so a person sees at once which data folder or checkpoint filled it. */
function tooLargeError(directory: string, files: PackageFile[], maxBytes: number): RayfleetError {
  const largestFiles = [...files].sort((a, b) => b.size - a.size).slice(0, LARGEST_SHOWN);
  const folderSizes = new Map<string, number>();
  for (const file of files) {
    const parts = file.entry.split('/').slice(0, -1);
    for (let depth = 1; depth <= parts.length; depth += 1) {
      const folder = `${parts.slice(0, depth).join('/')}/`;
      folderSizes.set(folder, (folderSizes.get(folder) ?? 0) + file.size);
    }
  }
  const largestFolders = [...folderSizes.entries()].sort((a, b) => b[1] - a[1]).slice(0, LARGEST_SHOWN);
  const total = files.reduce((sum, file) => sum + file.size, 0);
  const lines = [
    `largest files: ${largestFiles.map((file) => `${file.entry} (${formatMiB(file.size)})`).join(', ')}`,
    ...(largestFolders.length > 0 ? [`largest folders: ${largestFolders.map(([folder, bytes]) => `${folder} (${formatMiB(bytes)})`).join(', ')}`] : []),
    'Leave them out with a .gitignore or .rayignore in the directory (or `excludes` in the runtime env), or have the job fetch its data from where it lives.',
  ];
  return new RayfleetError(
    'JOB_PACKAGE_TOO_LARGE',
    `${directory} zips to more than ${formatMiB(maxBytes)}, Ray's limit for an uploaded package (${files.length} files, ${formatMiB(total)} before compression); nothing was uploaded`,
    { details: lines.join('\n') },
  );
}

function formatMiB(bytes: number): string {
  const mib = bytes / (1024 * 1024);
  return `${mib >= 10 ? Math.round(mib) : Math.round(mib * 10) / 10} MiB`;
}
