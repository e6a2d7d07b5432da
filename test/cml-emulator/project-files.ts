// Project files, under each project's directory: list one directory, upload (never overwriting — an occupied
// path keeps its file and the upload lands at `name(1).ext`, as CML does), download one file as raw bytes, delete a
// file or a directory.
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, extname, join, relative, resolve } from 'node:path';
import { ApiError, GrpcCode } from './api-error.js';
import { projectOf, render, type Handler, type World } from './world.js';

export function projectFileHandlers(world: World): Record<string, Handler> {
  return {
    ListProjectFiles: async ({ params }) => {
      const project = projectOf(world, params.project_id);
      const target = insideProject(project.directory, params.path);
      if (!existsSync(target)) throw new ApiError(GrpcCode.notFound, `${JSON.stringify(params.path)} not found`);
      const names = statSync(target).isDirectory() ? readdirSync(target).sort().map((name) => join(target, name)) : [target];
      return {
        files: names.map((file) => {
          const stats = statSync(file);
          // The swagger: file_size is unset for directories.
          return render(world, 'FileInfo', { path: relative(dirname(file), file), is_dir: stats.isDirectory(), file_size: stats.isDirectory() ? null : stats.size });
        }),
      };
    },

    UploadFile: async ({ params, form }) => {
      const project = projectOf(world, params.project_id);
      const files = [...(form?.entries() ?? [])].flatMap(([name, value]) => (value instanceof Blob ? [{ name, file: value }] : []));
      if (files.length === 0) throw new ApiError(GrpcCode.invalidArgument, 'the upload holds no file');
      for (const { name, file } of files) {
        const target = freePath(insideProject(project.directory, name));
        mkdirSync(dirname(target), { recursive: true });
        writeFileSync(target, Buffer.from(await file.arrayBuffer()));
      }
      // CML answers an upload with an empty body.
      return undefined;
    },

    // The answer is the file itself, so the handler hands back a Buffer, which the server sends as it is.
    DownloadProjectFile: async ({ params }) => {
      const project = projectOf(world, params.project_id);
      const target = insideProject(project.directory, params.path);
      if (!existsSync(target) || statSync(target).isDirectory()) throw new ApiError(GrpcCode.notFound, `file ${JSON.stringify(params.path)} not found`);
      return readFileSync(target);
    },

    DeleteProjectFile: async ({ params }) => {
      const project = projectOf(world, params.project_id);
      const target = insideProject(project.directory, params.path);
      if (target === resolve(project.directory)) throw new ApiError(GrpcCode.invalidArgument, 'the project root cannot be deleted');
      if (!existsSync(target)) throw new ApiError(GrpcCode.notFound, `${JSON.stringify(params.path)} not found`);
      rmSync(target, { recursive: true, force: true });
      return {};
    },
  };
}

/** A path relative to /home/cdsw, as an absolute path in the project directory; never outside it. */
function insideProject(directory: string, path: string | undefined): string {
  const root = resolve(directory);
  const target = resolve(root, (path ?? '.').replace(/^\/home\/cdsw\/?/, '').replace(/^\/+/, '') || '.');
  if (target !== root && !target.startsWith(`${root}/`)) throw new ApiError(GrpcCode.invalidArgument, `${JSON.stringify(path)} is outside the project`);
  return target;
}

/** The path itself if free, else `name(1).ext`, `name(2).ext`, … */
function freePath(target: string): string {
  if (!existsSync(target)) return target;
  const extension = extname(target);
  const stem = target.slice(0, target.length - extension.length);
  for (let copy = 1; ; copy += 1) {
    const candidate = `${stem}(${copy})${extension}`;
    if (!existsSync(candidate)) return candidate;
  }
}
