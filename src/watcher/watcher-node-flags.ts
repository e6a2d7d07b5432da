// The Node (V8) flags the watcher's own process runs with, wherever rayfleet starts it: `watcher start` and `up` here, the head's launcher on Cloudera AI.

/**
 * A young generation of at most 8 MB a half (Node's default is 16) and an old generation allowed to grow 30 % past
 * what the last full collection kept. At 10,000 nodes a tick reads a 3.6 MB reply and lists and joins 10,000 nodes:
 * with V8's defaults the heap grew to twice what it held and the watcher's peak RSS in its own loop was 190–270 MB;
 * with these 143–154 (bench:scale, seven runs). The price is more collections inside a tick: the acting tick's median
 * was 60–107 ms with V8's defaults, 69–94 with these, 94–103 with 4 MB halves (three or four runs each).
 */
export const WATCHER_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=8', '--heap-growing-percent=30'];

/** How the flags reach the head's launcher (launchers/ray_launcher.py), which starts the watcher with the venv's Node. */
export const WATCHER_NODE_FLAGS_ENV = 'RAYFLEET_WATCHER_NODE_FLAGS';
