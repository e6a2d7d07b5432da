// A watcher's state in the words both views show: stopped, running, or paused and only observing.
export function watcherWords(watcher: { running: boolean; paused: boolean }): string {
  if (!watcher.running) return 'stopped';
  return watcher.paused ? 'paused (observing only)' : 'running';
}
