// A runtime env's local `working_dir` and `py_modules` uploaded as Ray packages and replaced by their gcs:// URIs, as Ray's own CLI does.
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { RayfleetError, messageOf } from '../errors.js';
import { packDirectory, RAY_PACKAGE_MAX_BYTES } from './ray-package.js';

export type RuntimeEnv = Record<string, unknown>;

/** One package to put on the cluster: its name in the package store and its bytes. */
export interface PackageUpload {
  name: string;
  zip: Uint8Array;
  /** The local path it was made from, for messages. */
  source: string;
}

export interface UploadedPackage {
  /** The local path, resolved. */
  source: string;
  uri: string;
  bytes: number;
}

export interface LocalRuntimeEnvOptions {
  /** What relative paths are relative to: the working directory for a job, the config file's folder for Serve. */
  baseDir: string;
  upload: (upload: PackageUpload) => Promise<unknown>;
  maxBytes?: number | undefined;
}

/** `s3://…`, `gcs://…`, `https://…`: already where the cluster can fetch it. */
export function isRemoteUri(value: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(value);
}

/** A copy of the runtime env with every local path uploaded and replaced; a runtime env without local paths comes back equal. */
export async function uploadLocalPaths(runtimeEnv: RuntimeEnv, options: LocalRuntimeEnvOptions): Promise<{ runtimeEnv: RuntimeEnv; uploaded: UploadedPackage[] }> {
  const uploaded: UploadedPackage[] = [];
  const excludes = stringList(runtimeEnv.excludes, 'excludes');
  const resolved: RuntimeEnv = { ...runtimeEnv };
  const put = async (source: string, name: string, zip: Uint8Array): Promise<string> => {
    await options.upload({ name, zip, source });
    const uri = `gcs://${name}`;
    uploaded.push({ source, uri, bytes: zip.length });
    return uri;
  };
  const { working_dir: workingDir, py_modules: pyModules } = runtimeEnv;
  if (workingDir !== undefined) {
    if (typeof workingDir !== 'string') throw new RayfleetError('USAGE', `runtime_env.working_dir must be a path or a URI, not ${JSON.stringify(workingDir)}`);
    if (!isRemoteUri(workingDir)) {
      const local = path.resolve(options.baseDir, workingDir);
      if (local.endsWith('.zip') && (await isFile(local))) {
        const zip = await readFile(local);
        resolved.working_dir = await put(local, `_ray_pkg_${createHash('sha1').update(zip).digest('hex')}.zip`, checkedSize(zip, workingDir, options));
      } else {
        const pkg = await packDirectory(local, { excludes, maxBytes: options.maxBytes });
        resolved.working_dir = await put(local, pkg.name, pkg.zip);
      }
    }
  }
  if (pyModules !== undefined) {
    const modules = stringList(pyModules, 'py_modules') ?? [];
    const uris: string[] = [];
    for (const module of modules) {
      if (isRemoteUri(module)) {
        uris.push(module);
        continue;
      }
      const local = path.resolve(options.baseDir, module);
      if (local.endsWith('.whl') && (await isFile(local))) {
        // A wheel's name already says what it holds (name, version, tags): Ray keeps it as the package name.
        uris.push(await put(local, path.basename(local), checkedSize(await readFile(local), module, options)));
      } else {
        const pkg = await packDirectory(local, { excludes, underDirectoryName: true, maxBytes: options.maxBytes });
        uris.push(await put(local, pkg.name, pkg.zip));
      }
    }
    resolved.py_modules = uris;
  }
  return { runtimeEnv: resolved, uploaded };
}

function stringList(value: unknown, field: string): string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || !value.every((item): item is string => typeof item === 'string')) {
    throw new RayfleetError('USAGE', `runtime_env.${field} must be a list of strings, not ${JSON.stringify(value)}`);
  }
  return value;
}

async function isFile(file: string): Promise<boolean> {
  try {
    return (await stat(file)).isFile();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw new RayfleetError('USAGE', `cannot read ${file}: ${messageOf(error)}`, { cause: error });
  }
}

function checkedSize(zip: Buffer, source: string, options: LocalRuntimeEnvOptions): Buffer {
  const maxBytes = options.maxBytes ?? RAY_PACKAGE_MAX_BYTES;
  if (zip.length >= maxBytes) {
    throw new RayfleetError('JOB_PACKAGE_TOO_LARGE', `${source} is ${Math.round(zip.length / 1024 / 1024)} MiB, over Ray's limit of ${Math.round(maxBytes / 1024 / 1024)} MiB for an uploaded package; nothing was uploaded`, {
      details: 'Put it where the cluster can fetch it (an https:// or s3:// URI) and name that URI instead.',
    });
  }
  return zip;
}
