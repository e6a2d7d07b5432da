// What a person changes on the cluster page: pause or resume the watcher, add workers, save a group's min and max, remove a worker.
import { ApiError, api } from './api-client.js';
import type { AddWorkersResult, SnapshotAnswer, WatcherAnswer } from './api-types.js';
import { byId, el, replaceChildren } from './dom.js';
import { describeError, showMessage } from './message-box.js';

export class ClusterControls {
  private paused = false;

  /** `onWatcher` gets the watcher's state each change answers with, so the page shows it before the next snapshot. */
  constructor(
    private readonly clusterPath: string,
    private readonly onWatcher: (watcher: WatcherAnswer) => void,
  ) {}

  wire(): void {
    byId('add-worker').addEventListener('submit', (submitted) => {
      submitted.preventDefault();
      const count = Number(byId<HTMLInputElement>('add-count').value);
      const group = byId<HTMLSelectElement>('add-group').value;
      void this.mutate(async () => {
        const answer = await api<AddWorkersResult>('POST', `${this.clusterPath}/workers`, { group, count }, { needsToken: true });
        showMessage(`launching ${answer.launching.join(', ')}`, 'info');
      });
    });
    byId('pause').addEventListener('click', () => {
      void this.mutate(async () => {
        this.onWatcher(await api<WatcherAnswer>('PATCH', `${this.clusterPath}/watcher`, { paused: !this.paused }, { needsToken: true }));
      });
    });
  }

  /** The pause button says what it will do; the add form offers the groups there are. */
  showSnapshot(snapshot: SnapshotAnswer): void {
    this.paused = snapshot.watcher.paused;
    const pause = byId<HTMLButtonElement>('pause');
    pause.textContent = this.paused ? 'resume watcher' : 'pause watcher';
    pause.dataset.paused = String(this.paused);
    const select = byId<HTMLSelectElement>('add-group');
    const names = snapshot.watcher.groups.map((group) => group.name);
    if ([...select.options].map((option) => option.value).join() !== names.join()) {
      replaceChildren(select, ...names.map((name) => el('option', { value: name }, name)));
    }
  }

  async saveGroup(name: string, min: number, max: number): Promise<void> {
    await this.mutate(async () => {
      const watcher = await api<WatcherAnswer>('PATCH', `${this.clusterPath}/watcher`, { groups: [{ name, min, max }] }, { needsToken: true });
      (document.activeElement as HTMLElement | null)?.blur();
      this.onWatcher(watcher);
      showMessage(`group ${name}: min ${min}, max ${max}`, 'info');
    });
  }

  /** Drains first; a busy worker is refused with 409, and the message offers to remove it anyway. */
  async removeWorker(node: string, force = false): Promise<void> {
    showMessage(`removing ${node}…`, 'info');
    try {
      await api('DELETE', `${this.clusterPath}/workers/${encodeURIComponent(node)}${force ? '?force=true' : ''}`, undefined, { needsToken: true });
      showMessage(`${node} removed`, 'info');
    } catch (error) {
      if (error instanceof ApiError && error.status === 409) {
        showMessage(describeError(error), 'error', { label: 'remove anyway', run: () => void this.removeWorker(node, true) });
      } else {
        showMessage(describeError(error));
      }
    }
  }

  private async mutate(work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch (error) {
      showMessage(describeError(error));
    }
  }
}
