// The emulated workspace's runtime catalogue: a few real Python 3.11 (and one 3.10) ML Runtime images.
import { ApiError, GrpcCode } from './api-error.js';
import { listPage } from './listing.js';
import type { StoredProject } from './store.js';
import { render, type Handler, type World } from './world.js';

export const RUNTIMES: ReadonlyArray<Record<string, unknown> & { image_identifier: string }> = [
  {
    image_identifier: 'docker.repository.cloudera.com/cloudera/cdsw/ml-runtime-pbj-jupyterlab-python3.11-standard:2025.09.1-b5',
    editor: 'JupyterLab',
    kernel: 'Python 3.11',
    edition: 'Standard',
    description: 'Standard edition JupyterLab Python runtime provided by Cloudera',
    full_version: '2025.09.1-b5',
    status: 'ENABLED',
  },
  {
    image_identifier: 'docker.repository.cloudera.com/cloudera/cdsw/ml-runtime-pbj-jupyterlab-python3.11-cuda:2025.09.1-b5',
    editor: 'JupyterLab',
    kernel: 'Python 3.11',
    edition: 'Nvidia GPU',
    description: 'Nvidia GPU edition JupyterLab Python runtime provided by Cloudera',
    full_version: '2025.09.1-b5',
    status: 'ENABLED',
  },
  {
    image_identifier: 'docker.repository.cloudera.com/cloudera/cdsw/ml-runtime-pbj-workbench-python3.11-standard:2026.01.1-b6',
    editor: 'PBJ Workbench',
    kernel: 'Python 3.11',
    edition: 'Standard',
    description: 'Standard edition PBJ Workbench Python runtime provided by Cloudera',
    full_version: '2026.01.1-b6',
    status: 'ENABLED',
  },
  {
    image_identifier: 'docker.repository.cloudera.com/cloudera/cdsw/ml-runtime-jupyterlab-python3.10-standard:2024.10.1-b12',
    editor: 'JupyterLab',
    kernel: 'Python 3.10',
    edition: 'Standard',
    description: 'Standard edition JupyterLab Python runtime provided by Cloudera',
    full_version: '2024.10.1-b12',
    status: 'ENABLED',
  },
];

export function runtimeHandlers(world: World): Record<string, Handler> {
  return {
    ListRuntimes: async ({ query, operation }) => {
      const page = listPage(
        RUNTIMES.map((runtime) => render(world, 'Runtime', runtime)),
        query,
        operation,
      );
      return { runtimes: page.items, next_page_token: page.next_page_token };
    },
  };
}

/** Runtime projects need a runtime the workspace has, and no kernel; legacy-engine projects are not checked. */
export function checkRuntime(project: StoredProject, body: Record<string, unknown>): void {
  const runtime = typeof body.runtime_identifier === 'string' ? body.runtime_identifier : '';
  const kernel = typeof body.kernel === 'string' ? body.kernel : '';
  if (!project.usesRuntimes) return;
  if (runtime === '') throw new ApiError(GrpcCode.invalidArgument, 'runtime image must be specified');
  if (!RUNTIMES.some((candidate) => candidate.image_identifier === runtime)) throw new ApiError(GrpcCode.invalidArgument, `runtime ${JSON.stringify(runtime)} not found`);
  if (kernel !== '') throw new ApiError(GrpcCode.invalidArgument, 'kernel must not be set in a project that uses ML Runtimes');
}
