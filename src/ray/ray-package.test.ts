import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, open, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { rayfleetErrorOf } from '../../test/support/caught.js';
import { listPackageFiles, packDirectory, RAY_PACKAGE_MAX_BYTES } from './ray-package.js';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'rayfleet-package-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function put(relative: string, content: string | Buffer): Promise<void> {
  await mkdir(path.dirname(path.join(dir, relative)), { recursive: true });
  await writeFile(path.join(dir, relative), content);
}

/** The entries of a zip as Python's zipfile (what Ray unpacks with) reads them. */
async function zipEntries(zip: Buffer): Promise<Record<string, string>> {
  const file = path.join(dir, '..', `${path.basename(dir)}.zip`);
  await writeFile(file, zip);
  try {
    const { stdout } = await execa('python3', ['-c', 'import json, sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); print(json.dumps({n: z.read(n).decode() for n in z.namelist()}))', file]);
    return JSON.parse(stdout) as Record<string, string>;
  } finally {
    await rm(file, { force: true });
  }
}

describe('listPackageFiles', () => {
  it('honours .gitignore and .rayignore in every folder, relative to it, and always leaves out .git', async () => {
    await put('main.py', 'print(1)');
    await put('.gitignore', '*.ckpt\ndata/\n');
    await put('model.ckpt', 'x');
    await put('data/big.bin', 'x');
    await put('.git/HEAD', 'ref: refs/heads/main');
    await put('lib/util.py', 'u');
    await put('lib/.rayignore', 'scratch.txt\n');
    await put('lib/scratch.txt', 's');
    await put('scratch.txt', 'kept: the .rayignore in lib/ covers lib/ only');
    await put('lib/deep/data/x.txt', 'also left out: data/ matches at any depth');
    expect((await listPackageFiles(dir)).map((file) => file.entry)).toEqual(['.gitignore', 'lib/.rayignore', 'lib/util.py', 'main.py', 'scratch.txt']);
  });

  it("applies the runtime env's excludes from the top", async () => {
    await put('a.py', 'a');
    await put('logs/run.log', 'l');
    await put('b.tmp', 'b');
    expect((await listPackageFiles(dir, ['logs/', '*.tmp'])).map((file) => file.entry)).toEqual(['a.py']);
  });

  it('follows a symlinked folder once, so a loop ends', async () => {
    await put('pkg/mod.py', 'm');
    await symlink(dir, path.join(dir, 'pkg', 'loop'));
    expect((await listPackageFiles(dir)).map((file) => file.entry)).toEqual(['pkg/mod.py']);
  });
});

describe('packDirectory', () => {
  it('zips what Ray unpacks, named gcs://_ray_pkg_<sha1>.zip by its bytes, the same name for the same files', async () => {
    await put('main.py', 'print("hello")\n');
    await put('conf/settings.json', '{"a": 1}');
    await put('.gitignore', 'secret.txt\n');
    await put('secret.txt', 'nope');
    const first = await packDirectory(dir);
    expect(first.uri).toBe(`gcs://${first.name}`);
    expect(first.name).toMatch(/^_ray_pkg_[0-9a-f]{40}\.zip$/);
    expect(first.files).toBe(3);
    expect(await zipEntries(first.zip)).toEqual({ '.gitignore': 'secret.txt\n', 'conf/settings.json': '{"a": 1}', 'main.py': 'print("hello")\n' });
    expect((await packDirectory(dir)).name).toBe(first.name);
    await put('main.py', 'print("changed")\n');
    expect((await packDirectory(dir)).name).not.toBe(first.name);
  });

  it('puts a py_modules folder under its own name', async () => {
    const module = path.join(dir, 'mymod');
    await put('mymod/__init__.py', 'X = 1');
    expect(Object.keys(await zipEntries((await packDirectory(module, { underDirectoryName: true })).zip))).toEqual(['mymod/__init__.py']);
  });

  it('refuses a package over the limit before anything is sent, naming the largest files and folders', async () => {
    await put('small.py', 'x');
    // Random bytes do not compress, so the zip really is larger than the limit.
    await put('data/checkpoints/model.bin', randomBytes(600_000));
    await put('data/other.bin', randomBytes(300_000));
    await put('notes.bin', randomBytes(200_000));
    const error = await rayfleetErrorOf(() => packDirectory(dir, { maxBytes: 1_000_000 }));
    expect(error.code).toBe('JOB_PACKAGE_TOO_LARGE');
    expect(error.exitCode).toBe(2);
    expect(error.message).toMatch(/zips to more than 1 MiB, Ray's limit .*nothing was uploaded/);
    expect(error.details).toMatch(/^largest files: data\/checkpoints\/model\.bin \(0\.6 MiB\), data\/other\.bin \(0\.3 MiB\), notes\.bin \(0\.2 MiB\), small\.py/m);
    expect(error.details).toMatch(/^largest folders: data\/ \(0\.9 MiB\), data\/checkpoints\/ \(0\.6 MiB\)$/m);
    expect(error.details).toMatch(/\.gitignore or \.rayignore/);
  });

  it('takes a folder whose files compress under the limit even when they are larger before', async () => {
    await put('zeros.txt', Buffer.alloc(3_000_000));
    expect((await packDirectory(dir, { maxBytes: 1_000_000 })).zip.length).toBeLessThan(1_000_000);
  });

  it("leaves out a .gitignored file of 200 MB without reading it (Ray's limit is 100 MiB)", async () => {
    expect(RAY_PACKAGE_MAX_BYTES).toBe(100 * 1024 * 1024);
    await put('.gitignore', 'big.bin\n');
    await put('job.py', 'print(open("data.txt").read())');
    const big = await open(path.join(dir, 'big.bin'), 'w');
    await big.truncate(200_000_000);
    await big.close();
    const pkg = await packDirectory(dir);
    expect(Object.keys(await zipEntries(pkg.zip))).toEqual(['.gitignore', 'job.py']);
  });

  it('says USAGE for a path that is not a directory', async () => {
    await put('file.txt', 'x');
    expect((await rayfleetErrorOf(() => packDirectory(path.join(dir, 'file.txt')))).code).toBe('USAGE');
    expect((await rayfleetErrorOf(() => packDirectory(path.join(dir, 'missing')))).code).toBe('USAGE');
  });
});
