// Ports on this machine: a free one for a node's agents, and a check that a fixed one is not taken.
import { createServer } from 'node:net';
import { RayfleetError } from '../errors.js';

/** A port the kernel says is free now. */
export async function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** A port free now and not in `taken`: the kernel may hand a port it just freed out again. */
export async function findFreePortOutside(taken: ReadonlySet<number>, freePort: () => Promise<number> = findFreePort): Promise<number> {
  for (;;) {
    const port = await freePort();
    if (!taken.has(port)) return port;
  }
}

/** `count` ports free now, all different. */
export async function findFreePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await findFreePortOutside(ports));
  return [...ports];
}

/** Whether the port can be bound on every interface now. */
export async function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    // Ray's GCS and dashboard listen on all interfaces, so the port must be free on all of them.
    server.listen({ port, host: '0.0.0.0', exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** Fails with PORT_IN_USE naming the first taken port and what it was for. */
export async function ensurePortsFree(ports: Array<{ port: number; purpose: string }>): Promise<void> {
  for (const { port, purpose } of ports) {
    if (!(await isPortFree(port))) {
      throw new RayfleetError('PORT_IN_USE', `port ${port} (${purpose}) is already in use on this machine`, {
        details: `Another process listens on ${port}. Stop it, or give this cluster other ports in rayfleet.yaml (head.gcsPort, head.dashboardPort, head.clientPort).`,
      });
    }
  }
}
