// The dashboard's one script: fetches the API with the tab's token, follows the stream, renders tables, charts and the timeline.
import uPlot from 'uplot';
import { ApiError, api, forgetToken, hasToken, onTokenChange } from './api-client.js';
import { followStream } from './event-stream-reader.js';
import { el, formatBytes, formatDuration, formatTime, replaceChildren } from './dom.js';

interface RayView {
  nodeId: string;
  status: string;
  idleMs: number;
  resources: Record<string, number>;
  available: Record<string, number>;
}
interface NodeStatus {
  name: string;
  role: 'head' | 'worker';
  group: string;
  state: string;
  ray: RayView | null;
}
interface ClusterStatus {
  cluster: string;
  provider: string;
  dashboardUrl: string;
  rayError?: string;
  nodes: NodeStatus[];
}
interface GroupView {
  name: string;
  min: number;
  max: number;
  registered: number;
  launching: number;
  draining: number;
  backoffUntil: string | null;
}
interface WatcherView {
  running: boolean;
  paused: boolean;
  lastTickAt: string | null;
  source: string | null;
  problems: string[];
  groups: GroupView[];
  withheld: string[];
}
interface Snapshot {
  status: ClusterStatus | null;
  statusError: string | null;
  watcher: WatcherView;
}
interface JournalEvent {
  id: string;
  type: string;
  time: string;
  node?: string;
  group?: string;
  reason?: string;
  [field: string]: unknown;
}
interface ClusterSummary {
  name: string;
  provider: string;
  nodes: { alive: number; total: number };
  pendingDemand: number;
  watcher: { running: boolean; paused: boolean };
  rayDashboardUrl: string | null;
  error: string | null;
}
interface HistoryWindow {
  stepMs: number;
  times: number[];
  series: Record<string, Array<number | null>>;
}

const TIMELINE_LIMIT = 1000;
const HISTORY_WINDOW_MS = 30 * 60_000;
const HISTORY_REFRESH_MS = 3000;
const OVERVIEW_REFRESH_MS = 2000;
const PALETTE = ['#2f7ed8', '#e4572e', '#29a36a', '#a05fd1', '#f2a93b', '#17becf', '#8c564b', '#d62790'];
/** Event kinds drawn on the charts as vertical marks. */
const MARKS: Record<string, string> = { launch: '#29a36a', 'scale-up': '#29a36a', drain: '#f2a93b', terminate: '#888888', 'launch-failed': '#e4572e' };
/** Fields every event has, shown elsewhere in its timeline row; the rest are its numbers. */
const SHOWN_FIELDS = new Set(['id', 'v', 'type', 'time', 'cluster', 'node', 'group', 'reason']);

function byId<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (found === null) throw new Error(`the page has no #${id}`);
  return found as T;
}

/** How long a note that something worked stays up; errors stay until closed. */
const INFO_MS = 8000;
let infoTimer: ReturnType<typeof setTimeout> | undefined;

function showMessage(text: string, kind: 'error' | 'info' = 'error', action?: { label: string; run: () => void }): void {
  const box = byId('message');
  clearTimeout(infoTimer);
  if (kind === 'info') {
    infoTimer = setTimeout(() => {
      box.hidden = true;
    }, INFO_MS);
  }
  box.className = kind;
  replaceChildren(box, el('span', {}, text));
  if (action !== undefined) {
    const button = el('button', { type: 'button', 'data-testid': 'message-action' }, action.label);
    button.addEventListener('click', () => {
      box.hidden = true;
      action.run();
    });
    box.append(' ', button);
  }
  const close = el('button', { type: 'button', class: 'quiet' }, '×');
  close.addEventListener('click', () => {
    box.hidden = true;
  });
  box.append(' ', close);
  box.hidden = false;
}

function describeError(error: unknown): string {
  if (error instanceof ApiError) return `${error.code}: ${error.message}${error.details === null ? '' : ` — ${error.details}`}`;
  return error instanceof Error ? error.message : String(error);
}

function setLive(live: boolean): void {
  const badge = byId('live');
  badge.textContent = live ? 'live' : 'reconnecting…';
  badge.className = `badge ${live ? 'ok' : 'warn'}`;
}

function watchTokenButton(): void {
  const button = byId<HTMLButtonElement>('forget-token');
  const update = (): void => {
    button.hidden = !hasToken();
  };
  button.addEventListener('click', () => {
    forgetToken();
  });
  onTokenChange(update);
  update();
}

// ---- overview ---------------------------------------------------------------------------------------------------

async function overview(): Promise<void> {
  const body = byId('clusters-body');
  const refresh = async (): Promise<void> => {
    try {
      const { clusters } = await api<{ clusters: ClusterSummary[] }>('GET', '/clusters');
      setLive(true);
      if (clusters.length === 0) {
        replaceChildren(body, el('tr', {}, el('td', { colspan: '6', class: 'muted' }, 'no cluster is up on this machine')));
        return;
      }
      replaceChildren(
        body,
        ...clusters.map((cluster) =>
          el(
            'tr',
            { 'data-testid': 'cluster-row', 'data-cluster': cluster.name },
            el('td', {}, el('a', { href: `/clusters/${encodeURIComponent(cluster.name)}` }, cluster.name)),
            el('td', {}, cluster.provider),
            el('td', {}, `${cluster.nodes.alive} / ${cluster.nodes.total}`),
            el('td', {}, String(cluster.pendingDemand)),
            el('td', {}, watcherWords(cluster.watcher)),
            el('td', {}, cluster.rayDashboardUrl === null ? el('span', { class: 'muted' }, cluster.error ?? '—') : el('a', { href: cluster.rayDashboardUrl, target: '_blank', rel: 'noopener noreferrer' }, 'dashboard ↗')),
          ),
        ),
      );
    } catch (error) {
      setLive(false);
      showMessage(describeError(error));
    }
  };
  await refresh();
  setInterval(() => void refresh(), OVERVIEW_REFRESH_MS);
}

function watcherWords(watcher: { running: boolean; paused: boolean }): string {
  if (!watcher.running) return 'stopped';
  return watcher.paused ? 'paused (observing only)' : 'running';
}

// ---- cluster page ------------------------------------------------------------------------------------------------

class ClusterView {
  private snapshot: Snapshot | undefined;
  private events: JournalEvent[] = [];
  private nodesChart: uPlot | undefined;
  private demandChart: uPlot | undefined;
  private chartKeys = { nodes: '', demand: '' };

  constructor(private readonly name: string) {}

  private path(suffix = ''): string {
    return `/clusters/${encodeURIComponent(this.name)}${suffix}`;
  }

  async start(): Promise<void> {
    document.title = `rayfleet: ${this.name}`;
    byId('cluster-title').textContent = this.name;
    byId('crumb').textContent = `/ ${this.name}`;
    this.wireControls();
    let lastId: string | undefined;
    try {
      const page = await api<{ events: JournalEvent[]; lastId: string }>('GET', `${this.path('/events')}?limit=${TIMELINE_LIMIT}`);
      this.events = page.events;
      lastId = page.lastId;
      this.renderTimeline();
    } catch (error) {
      showMessage(describeError(error));
    }
    void followStream(`/api/v1${this.path('/stream')}`, lastId, {
      onLive: setLive,
      onEvent: (kind, data) => {
        if (kind === 'snapshot') this.onSnapshot(JSON.parse(data) as Snapshot);
        else if (kind === 'journal') this.onJournal(JSON.parse(data) as JournalEvent);
        else if (kind === 'problem') showMessage(`the server: ${(JSON.parse(data) as { message: string }).message}`);
      },
    });
    await this.refreshHistory();
    setInterval(() => void this.refreshHistory(), HISTORY_REFRESH_MS);
    window.addEventListener('resize', () => this.resizeCharts());
  }

  private onSnapshot(snapshot: Snapshot): void {
    this.snapshot = snapshot;
    this.renderWatcher();
    this.renderGroups();
    this.renderNodes();
  }

  private onJournal(event: JournalEvent): void {
    this.events.push(event);
    if (this.events.length > TIMELINE_LIMIT) this.events.splice(0, this.events.length - TIMELINE_LIMIT);
    this.renderTimeline();
    if (event.type in MARKS) {
      this.nodesChart?.redraw(false);
      this.demandChart?.redraw(false);
    }
  }

  private renderWatcher(): void {
    const watcher = this.snapshot?.watcher;
    if (watcher === undefined) return;
    const state = byId('watcher-state');
    state.textContent = `watcher: ${watcherWords(watcher)}${watcher.source === null ? '' : ` · demand from ${watcher.source}`}`;
    state.className = `badge ${!watcher.running ? 'warn' : watcher.paused ? 'paused' : 'ok'}`;
    state.dataset.paused = String(watcher.paused);
    const pause = byId<HTMLButtonElement>('pause');
    pause.textContent = watcher.paused ? 'resume watcher' : 'pause watcher';
    pause.dataset.paused = String(watcher.paused);
    const link = byId<HTMLAnchorElement>('ray-dashboard');
    const url = this.snapshot?.status?.dashboardUrl;
    if (url !== undefined && url !== 'unknown') {
      link.href = url;
      link.hidden = false;
    }
    const withheld = byId('withheld');
    const reasons = [...watcher.problems.map((problem) => `problem: ${problem}`), ...watcher.withheld];
    withheld.hidden = reasons.length === 0;
    withheld.textContent = reasons.length === 0 ? '' : `held back now: ${reasons.join('; ')}`;
  }

  private renderGroups(): void {
    const groups = this.snapshot?.watcher.groups ?? [];
    const body = byId('groups-body');
    const editing = body.contains(document.activeElement) && document.activeElement instanceof HTMLInputElement;
    // A user typing a new min or max keeps what they typed: the row is only refreshed when nobody edits it.
    if (!editing) {
      replaceChildren(
        body,
        ...groups.map((group) => {
          const min = el('input', { type: 'number', min: '0', value: String(group.min), class: 'small', 'data-testid': `min-${group.name}` });
          const max = el('input', { type: 'number', min: '0', value: String(group.max), class: 'small', 'data-testid': `max-${group.name}` });
          const save = el('button', { type: 'button', 'data-testid': `save-${group.name}` }, 'save');
          save.addEventListener('click', () => void this.saveGroup(group.name, Number(min.value), Number(max.value)));
          return el(
            'tr',
            { 'data-testid': 'group-row', 'data-group': group.name },
            el('td', {}, group.name),
            el('td', {}, min),
            el('td', {}, max),
            el('td', {}, String(group.registered)),
            el('td', {}, String(group.launching)),
            el('td', {}, String(group.draining)),
            el('td', {}, group.backoffUntil === null ? '—' : formatTime(group.backoffUntil)),
            el('td', {}, save),
          );
        }),
      );
    }
    const select = byId<HTMLSelectElement>('add-group');
    const filter = byId<HTMLSelectElement>('filter-group');
    const names = groups.map((group) => group.name);
    if ([...select.options].map((option) => option.value).join() !== names.join()) {
      replaceChildren(select, ...names.map((name) => el('option', { value: name }, name)));
      const chosen = filter.value;
      replaceChildren(filter, el('option', { value: '' }, 'all'), ...names.map((name) => el('option', { value: name }, name)));
      filter.value = chosen;
    }
  }

  private renderNodes(): void {
    const body = byId('nodes-body');
    const status = this.snapshot?.status;
    if (status === null || status === undefined) {
      replaceChildren(body, el('tr', {}, el('td', { colspan: '9', class: 'muted' }, this.snapshot?.statusError ?? 'loading…')));
      return;
    }
    const rows = status.nodes.map((node) => {
      const used = (resource: string, format: (value: number) => string = String): string => {
        if (node.ray === null || node.ray.status === 'DEAD') return '—';
        const total = node.ray.resources[resource] ?? 0;
        return `${format(total - (node.ray.available[resource] ?? 0))} / ${format(total)}`;
      };
      const actions = el('td', {});
      if (node.role === 'worker') {
        const remove = el('button', { type: 'button', class: 'quiet', 'data-testid': `remove-${node.name}` }, 'remove');
        remove.addEventListener('click', () => void this.removeWorker(node.name, false));
        actions.append(remove);
      }
      return el(
        'tr',
        { 'data-testid': 'node-row', 'data-node': node.name, 'data-state': node.state, 'data-ray': node.ray?.status ?? 'none' },
        el('td', {}, node.name),
        el('td', {}, node.group),
        el('td', { class: `state-${node.state}` }, node.state),
        el('td', { class: `ray-${(node.ray?.status ?? 'none').toLowerCase()}` }, node.ray?.status ?? 'not in Ray'),
        el('td', {}, used('CPU')),
        el('td', {}, used('GPU')),
        el('td', {}, used('memory', formatBytes)),
        el('td', {}, node.ray !== null && node.ray.status === 'IDLE' ? formatDuration(node.ray.idleMs) : '—'),
        actions,
      );
    });
    if (status.rayError !== undefined) rows.push(el('tr', {}, el('td', { colspan: '9', class: 'muted' }, `Ray cannot be asked: ${status.rayError}`)));
    replaceChildren(body, ...rows);
  }

  private renderTimeline(): void {
    const group = byId<HTMLSelectElement>('filter-group').value;
    const type = byId<HTMLSelectElement>('filter-type').value;
    const shown = this.events.filter((event) => (group === '' || event.group === group) && (type === '' || event.type === type)).slice(-300).reverse();
    replaceChildren(
      byId('timeline'),
      ...shown.map((event) =>
        el(
          'li',
          { 'data-testid': 'timeline-item', 'data-type': event.type, class: `event-${event.type}` },
          el('time', { datetime: event.time }, formatTime(event.time)),
          el('span', { class: `badge type-${event.type}` }, event.type),
          event.node === undefined && event.group === undefined ? '' : el('span', { class: 'who' }, [event.group, event.node].filter((part) => part !== undefined).join(' · ')),
          el('span', { class: 'reason' }, event.reason ?? ''),
          numbersOf(event),
        ),
      ),
    );
  }

  private wireControls(): void {
    byId('filter-group').addEventListener('change', () => this.renderTimeline());
    byId('filter-type').addEventListener('change', () => this.renderTimeline());
    byId('add-worker').addEventListener('submit', (submitted) => {
      submitted.preventDefault();
      const count = Number(byId<HTMLInputElement>('add-count').value);
      const group = byId<HTMLSelectElement>('add-group').value;
      void this.mutate(async () => {
        const answer = await api<{ launching: string[] }>('POST', this.path('/workers'), { group, count }, { needsToken: true });
        showMessage(`launching ${answer.launching.join(', ')}`, 'info');
      });
    });
    byId('pause').addEventListener('click', () => {
      const paused = this.snapshot?.watcher.paused ?? false;
      void this.mutate(async () => {
        const watcher = await api<WatcherView>('PATCH', this.path('/watcher'), { paused: !paused }, { needsToken: true });
        if (this.snapshot !== undefined) this.onSnapshot({ ...this.snapshot, watcher });
      });
    });
  }

  private async saveGroup(name: string, min: number, max: number): Promise<void> {
    await this.mutate(async () => {
      const watcher = await api<WatcherView>('PATCH', this.path('/watcher'), { groups: [{ name, min, max }] }, { needsToken: true });
      (document.activeElement as HTMLElement | null)?.blur();
      if (this.snapshot !== undefined) this.onSnapshot({ ...this.snapshot, watcher });
      showMessage(`group ${name}: min ${min}, max ${max}`, 'info');
    });
  }

  private async removeWorker(node: string, force: boolean): Promise<void> {
    showMessage(`removing ${node}…`, 'info');
    try {
      await api('DELETE', `${this.path(`/workers/${encodeURIComponent(node)}`)}${force ? '?force=true' : ''}`, undefined, { needsToken: true });
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

  private async refreshHistory(): Promise<void> {
    const since = new Date(Date.now() - HISTORY_WINDOW_MS).toISOString();
    let window: HistoryWindow;
    try {
      window = await api<HistoryWindow>('GET', `${this.path('/history')}?since=${encodeURIComponent(since)}&step=5`);
    } catch {
      // The stream shows the problem; the chart keeps what it drew.
      return;
    }
    const times = window.times.map((time) => time / 1000);
    const keys = Object.keys(window.series).sort();
    const nodeKeys = keys.filter((key) => key.startsWith('nodes/') && !key.endsWith('/dead'));
    const demandKeys = keys.filter((key) => key.startsWith('demand/'));
    this.nodesChart = this.drawChart('nodes', 'nodes-chart', this.nodesChart, times, nodeKeys, window, (key) => key.slice('nodes/'.length).replace('/', ' '));
    this.demandChart = this.drawChart('demand', 'demand-chart', this.demandChart, times, demandKeys, window, (key) => key.slice('demand/'.length));
  }

  private drawChart(
    which: 'nodes' | 'demand',
    containerId: string,
    existing: uPlot | undefined,
    times: number[],
    keys: string[],
    window: HistoryWindow,
    label: (key: string) => string,
  ): uPlot {
    const data = [times, ...keys.map((key) => window.series[key] ?? [])] as uPlot.AlignedData;
    const signature = keys.join('|');
    if (existing !== undefined && this.chartKeys[which] === signature) {
      existing.setData(data);
      return existing;
    }
    existing?.destroy();
    this.chartKeys[which] = signature;
    const container = byId(containerId);
    replaceChildren(container);
    const options: uPlot.Options = {
      width: Math.max(300, container.clientWidth),
      height: 220,
      scales: { x: { time: true }, y: { range: (_chart, _min, max) => [0, Math.max(1, max + 1)] } },
      axes: [{}, { label: which === 'nodes' ? 'workers' : 'requests waiting' }],
      series: [
        {},
        ...keys.map((key, index) => ({
          label: label(key),
          stroke: PALETTE[index % PALETTE.length] as string,
          width: 2,
          paths: uPlot.paths.stepped?.({ align: 1 }),
          dash: key.endsWith('/launching') ? [6, 4] : undefined,
          spanGaps: false,
        })),
      ],
      hooks: { draw: [(chart) => this.drawMarks(chart)] },
    };
    return new uPlot(options, data, container);
  }

  /** Launches, drains and terminations in the window as thin vertical lines, so a rise in nodes shows its cause. */
  private drawMarks(chart: uPlot): void {
    const context = chart.ctx;
    const [first, last] = [chart.scales.x?.min, chart.scales.x?.max];
    if (first === undefined || last === undefined) return;
    context.save();
    context.lineWidth = 1;
    for (const event of this.events) {
      const color = MARKS[event.type];
      const at = Date.parse(event.time) / 1000;
      if (color === undefined || at < first || at > last) continue;
      const x = Math.round(chart.valToPos(at, 'x', true));
      context.strokeStyle = color;
      context.setLineDash(event.type === 'terminate' ? [2, 3] : []);
      context.beginPath();
      context.moveTo(x, chart.bbox.top);
      context.lineTo(x, chart.bbox.top + chart.bbox.height);
      context.stroke();
    }
    context.restore();
  }

  private resizeCharts(): void {
    for (const [chart, id] of [
      [this.nodesChart, 'nodes-chart'],
      [this.demandChart, 'demand-chart'],
    ] as const) {
      chart?.setSize({ width: Math.max(300, byId(id).clientWidth), height: 220 });
    }
  }
}

/** An event's numbers: every field beyond the common ones, nested bags flattened one level. */
function numbersOf(event: JournalEvent): HTMLElement | string {
  const chips: string[] = [];
  for (const [key, value] of Object.entries(event)) {
    if (SHOWN_FIELDS.has(key) || value === undefined || value === null) continue;
    if (typeof value === 'object' && !Array.isArray(value)) {
      for (const [inner, innerValue] of Object.entries(value as Record<string, unknown>)) chips.push(`${inner}=${String(innerValue)}`);
    } else {
      chips.push(`${key}=${Array.isArray(value) ? value.join(',') : String(value)}`);
    }
  }
  return chips.length === 0 ? '' : el('span', { class: 'numbers' }, ...chips.map((chip) => el('code', {}, chip)));
}

function start(): void {
  watchTokenButton();
  const page = document.body.dataset.page;
  if (page === 'overview') void overview();
  else if (page === 'cluster') {
    const name = decodeURIComponent(location.pathname.split('/')[2] ?? '');
    void new ClusterView(name).start();
  }
}

start();
