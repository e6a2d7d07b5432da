// dashboard: the control plane (REST API and web page) for every cluster on this machine, in the foreground or as a service.
import { spawn } from 'node:child_process';
import { Command, Option } from 'commander';
import { createLogger } from '../../log/logger.js';
import {
  DEFAULT_DASHBOARD_HOST,
  DEFAULT_DASHBOARD_PORT,
  readDashboardService,
  runDashboard,
  startDashboardService,
  stopDashboardService,
  type DashboardStarter,
} from '../../server/dashboard-service.js';
import { readOrCreateDashboardToken } from '../../server/dashboard-token.js';
import { isLoopback } from '../../server/request-guard.js';
import { openFleet, withFleet } from '../context.js';
import { interruptSignal } from '../interruption.js';
import { parseWholeNumber } from '../option-parsers.js';
import { printLine } from '../output.js';

interface DashboardOptions {
  port: number;
  host: string;
  open?: boolean;
  background?: boolean;
  stop?: boolean;
  token?: boolean;
  /** With --token: the cluster whose dashboard's token (a Cloudera AI cluster's is in its head application). */
  cluster?: string;
  startedBy: DashboardStarter;
  anyPortIfTaken?: boolean;
}

/** Opens the URL in the desktop's browser, where there is one; a headless machine just has the printed URL. */
function openInBrowser(url: string): void {
  const child = spawn('xdg-open', [url], { detached: true, stdio: 'ignore' });
  child.on('error', () => undefined);
  child.unref();
}

function describe(url: string, host: string): string {
  return isLoopback(host) ? `dashboard: ${url}` : `dashboard: ${url} (every request needs the token: \`rayfleet dashboard --token\`)`;
}

/** A cluster whose dashboard runs inside it (a CML head's) keeps its own token there; any other cluster's is this machine's. */
async function clusterDashboardToken(cluster: string): Promise<string> {
  const fleet = await openFleet({ cluster }, {}, false);
  return withFleet(fleet, async () => (await fleet.dashboardToken(interruptSignal)) ?? readOrCreateDashboardToken());
}

export function dashboardCommand(): Command {
  return new Command('dashboard')
    .description('serve the REST API (/api/v1) and the web dashboard for every cluster on this machine')
    .option('--port <port>', 'the port (0: a free one)', parseWholeNumber, DEFAULT_DASHBOARD_PORT)
    .option('--host <address>', 'the address to bind; off loopback every request needs the token', DEFAULT_DASHBOARD_HOST)
    .option('--open', 'open the page in a browser')
    .addOption(new Option('--background', 'run as a background service and return').conflicts('stop'))
    .option('--stop', 'stop the background service')
    .option('--token', 'print the token that changes (and every request off loopback) need, and exit')
    .option('-c, --cluster <name>', "with --token: a Cloudera AI cluster's, whose dashboard runs in its head application")
    .addOption(new Option('--started-by <who>', 'who started it: hand or up').choices(['hand', 'up']).default('hand').hideHelp())
    .addOption(new Option('--any-port-if-taken', 'take a free port when --port is taken').hideHelp())
    .action(async (options: DashboardOptions) => {
      if (options.token === true) {
        printLine(options.cluster === undefined ? await readOrCreateDashboardToken() : await clusterDashboardToken(options.cluster));
        return;
      }
      if (options.stop === true) {
        printLine((await stopDashboardService()) ? 'dashboard stopped' : 'no dashboard was running');
        return;
      }
      if (options.background === true) {
        const before = await readDashboardService();
        const info = await startDashboardService({ host: options.host, port: options.port, startedBy: options.startedBy, anyPortIfTaken: options.anyPortIfTaken });
        printLine(before === undefined ? `${describe(info.url, info.host)} (pid ${info.pid})` : `${describe(info.url, info.host)} already runs (pid ${info.pid})`);
        if (options.open === true) openInBrowser(info.url);
        return;
      }
      await runDashboard({
        host: options.host,
        port: options.port,
        startedBy: options.startedBy,
        anyPortIfTaken: options.anyPortIfTaken,
        logger: createLogger(),
        signal: interruptSignal,
        onListening: (info) => {
          printLine(describe(info.url, info.host));
          if (options.open === true) openInBrowser(info.url);
        },
      });
    });
}
