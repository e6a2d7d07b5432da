// A launcher in a child process for failpoint tests: launches or terminates one local node, and dies wherever RAYFLEET_FAILPOINTS says.
import { localProvider, workerRequest } from './local-nodes.js';

const [stateDir, rayCommand, name, action] = process.argv.slice(2);
if (stateDir === undefined || rayCommand === undefined || name === undefined) throw new Error('usage: local-provider-child STATE_DIR RAY NAME launch|terminate');
const provider = localProvider(stateDir, rayCommand);
if (action === 'terminate') await provider.terminate(name);
else await provider.launch(workerRequest(name));
process.stdout.write('done\n');
