// Projects: create (blank, or "from git" — an empty directory that records the URL), get, list.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ApiError, GrpcCode } from './api-error.js';
import { listPage } from './listing.js';
import { EMULATOR_USER, newId, now, type StoredProject } from './store.js';
import { bodyOf, environmentOf, projectOf, render, requireText, type Handler, type World } from './world.js';

const VISIBILITIES = new Set(['public', 'organization', 'private']);
const ENGINE_TYPES = new Set(['', 'ml_runtime', 'legacy_engine']);

export function projectHandlers(world: World): Record<string, Handler> {
  return {
    ListProjects: async ({ query, operation }) => {
      const page = listPage([...world.store.projects.values()].map((project) => renderProject(world, project)), query, operation);
      return { projects: page.items, next_page_token: page.next_page_token };
    },

    GetProject: async ({ params }) => renderProject(world, projectOf(world, params.project_id)),

    CreateProject: async (context) => {
      const body = bodyOf(context);
      const name = requireText(body, 'name', 'project name');
      const visibility = typeof body.visibility === 'string' && body.visibility !== '' ? body.visibility : 'private';
      if (!VISIBILITIES.has(visibility)) throw new ApiError(GrpcCode.invalidArgument, `visibility must be public, organization or private, not ${JSON.stringify(visibility)}`);
      const engineType = typeof body.default_project_engine_type === 'string' ? body.default_project_engine_type : '';
      if (!ENGINE_TYPES.has(engineType)) throw new ApiError(GrpcCode.invalidArgument, `unknown default_project_engine_type ${JSON.stringify(engineType)}`);
      if ([...world.store.projects.values()].some((project) => project.name === name)) {
        throw new ApiError(GrpcCode.alreadyExists, `a project named ${JSON.stringify(name)} already exists`);
      }
      const id = newId();
      const directory = join(world.projectsRoot, id);
      mkdirSync(directory, { recursive: true });
      const gitUrl = typeof body.git_url === 'string' && body.git_url !== '' ? body.git_url : undefined;
      const created = now(world.clock);
      const project: StoredProject = {
        id,
        name,
        directory,
        environment: environmentOf(body),
        usesRuntimes: engineType !== 'legacy_engine',
        fields: {
          description: body.description,
          visibility,
          default_engine_type: engineType === 'legacy_engine' ? 'legacy_engine' : 'ml_runtime',
          shared_memory_limit: body.shared_memory_limit ?? 64,
          created_at: created,
          updated_at: created,
          // A git import is asynchronous in CML: the create answer says so, and the next read finds it done.
          creation_status: gitUrl === undefined ? 'success' : 'creating',
          slug: name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, ''),
          git_url: gitUrl,
          git_ref: body.git_ref,
          template: gitUrl === undefined ? (body.template ?? 'local') : 'git',
        },
      };
      world.store.projects.set(id, project);
      const answer = renderProject(world, project);
      project.fields.creation_status = 'success';
      return answer;
    },
  };
}

function renderProject(world: World, project: StoredProject): Record<string, unknown> {
  return render(world, 'Project', {
    ...project.fields,
    id: project.id,
    name: project.name,
    environment: project.environment,
    owner: EMULATOR_USER,
    creator: EMULATOR_USER,
    permissions: { read: true, write: true, admin: true },
  });
}
