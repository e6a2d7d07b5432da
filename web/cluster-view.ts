// The cluster page: the stream's data shown by the tables and the charts, and changed through the controls.
import type { JournalEventAnswer, SnapshotAnswer, WatcherAnswer } from './api-types.js';
import { ClusterCharts } from './cluster-charts.js';
import { ClusterControls } from './cluster-controls.js';
import { TIMELINE_LIMIT, followCluster } from './cluster-stream.js';
import { ClusterTables } from './cluster-tables.js';
import { byId } from './dom.js';

export class ClusterView {
  private snapshot: SnapshotAnswer | undefined;
  private events: JournalEventAnswer[] = [];
  private readonly clusterPath: string;
  private readonly controls: ClusterControls;
  private readonly tables: ClusterTables;
  private readonly charts: ClusterCharts;

  constructor(private readonly name: string) {
    this.clusterPath = `/clusters/${encodeURIComponent(name)}`;
    this.controls = new ClusterControls(this.clusterPath, (watcher) => this.onWatcher(watcher));
    this.tables = new ClusterTables(this.controls);
    this.charts = new ClusterCharts(this.clusterPath, () => this.events);
  }

  async start(): Promise<void> {
    document.title = `rayfleet: ${this.name}`;
    byId('cluster-title').textContent = this.name;
    byId('crumb').textContent = `/ ${this.name}`;
    this.controls.wire();
    this.tables.wire();
    await followCluster(this.clusterPath, {
      onEvents: (events) => {
        this.events = events;
        this.tables.showEvents(this.events);
      },
      onJournal: (event) => this.onJournal(event),
      onSnapshot: (snapshot) => this.onSnapshot(snapshot),
    });
    await this.charts.start();
  }

  private onSnapshot(snapshot: SnapshotAnswer): void {
    this.snapshot = snapshot;
    this.tables.showSnapshot(snapshot);
    this.controls.showSnapshot(snapshot);
  }

  /** A change answers with the watcher's new state: shown at once, with the nodes of the last snapshot. */
  private onWatcher(watcher: WatcherAnswer): void {
    if (this.snapshot !== undefined) this.onSnapshot({ ...this.snapshot, watcher });
  }

  private onJournal(event: JournalEventAnswer): void {
    this.events.push(event);
    if (this.events.length > TIMELINE_LIMIT) this.events.splice(0, this.events.length - TIMELINE_LIMIT);
    this.tables.showEvents(this.events);
    this.charts.showEvent(event);
  }
}
