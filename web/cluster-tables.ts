// The cluster page's tables: the watcher's line, the groups, the nodes, and the decisions (the journal's timeline).
import type { GroupAnswer, JournalEventAnswer, NodeStatusAnswer, SnapshotAnswer } from './api-types.js';
import type { ClusterControls } from './cluster-controls.js';
import { byId, el, formatBytes, formatDuration, formatTime, replaceChildren } from './dom.js';
import { watcherWords } from './watcher-words.js';

/** The timeline shows this many of the events it matches, newest first. */
const TIMELINE_SHOWN = 300;
/** Fields every event has, shown elsewhere in its timeline row; the rest are its numbers. */
const SHOWN_FIELDS = new Set(['id', 'v', 'type', 'time', 'cluster', 'node', 'group', 'reason']);

export class ClusterTables {
  private events: readonly JournalEventAnswer[] = [];

  constructor(private readonly controls: ClusterControls) {}

  /** The timeline's filters redraw it from the events it last showed. */
  wire(): void {
    byId('filter-group').addEventListener('change', () => this.renderTimeline());
    byId('filter-type').addEventListener('change', () => this.renderTimeline());
  }

  showSnapshot(snapshot: SnapshotAnswer): void {
    this.renderWatcher(snapshot);
    this.renderGroups(snapshot.watcher.groups);
    this.renderNodes(snapshot);
  }

  showEvents(events: readonly JournalEventAnswer[]): void {
    this.events = events;
    this.renderTimeline();
  }

  private renderWatcher({ watcher, status }: SnapshotAnswer): void {
    const state = byId('watcher-state');
    state.textContent = `watcher: ${watcherWords(watcher)}${watcher.source === null ? '' : ` · demand from ${watcher.source}`}`;
    state.className = `badge ${!watcher.running ? 'warn' : watcher.paused ? 'paused' : 'ok'}`;
    state.dataset.paused = String(watcher.paused);
    const link = byId<HTMLAnchorElement>('ray-dashboard');
    const url = status?.dashboardUrl;
    if (url !== undefined && url !== 'unknown') {
      link.href = url;
      link.hidden = false;
    }
    const withheld = byId('withheld');
    const reasons = [...watcher.problems.map((problem) => `problem: ${problem}`), ...watcher.withheld];
    withheld.hidden = reasons.length === 0;
    withheld.textContent = reasons.length === 0 ? '' : `held back now: ${reasons.join('; ')}`;
  }

  private renderGroups(groups: GroupAnswer[]): void {
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
          save.addEventListener('click', () => void this.controls.saveGroup(group.name, Number(min.value), Number(max.value)));
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
    const filter = byId<HTMLSelectElement>('filter-group');
    const names = groups.map((group) => group.name);
    if ([...filter.options].slice(1).map((option) => option.value).join() !== names.join()) {
      const chosen = filter.value;
      replaceChildren(filter, el('option', { value: '' }, 'all'), ...names.map((name) => el('option', { value: name }, name)));
      filter.value = chosen;
    }
  }

  private renderNodes({ status, statusError }: SnapshotAnswer): void {
    const body = byId('nodes-body');
    if (status === null) {
      replaceChildren(body, el('tr', {}, el('td', { colspan: '9', class: 'muted' }, statusError ?? 'loading…')));
      return;
    }
    const rows = status.nodes.map((node) => this.nodeRow(node));
    if (status.rayError !== undefined) rows.push(el('tr', {}, el('td', { colspan: '9', class: 'muted' }, `Ray cannot be asked: ${status.rayError}`)));
    if (status.providerError !== undefined) rows.push(el('tr', {}, el('td', { colspan: '9', class: 'muted' }, `Not readable now: ${status.providerError}`)));
    replaceChildren(body, ...rows);
  }

  private nodeRow(node: NodeStatusAnswer): HTMLTableRowElement {
    const used = (resource: string, format: (value: number) => string = String): string => {
      if (node.ray === null || node.ray.status === 'DEAD') return '—';
      const total = node.ray.resources[resource] ?? 0;
      return `${format(total - (node.ray.available[resource] ?? 0))} / ${format(total)}`;
    };
    const actions = el('td', {});
    if (node.role === 'worker') {
      const remove = el('button', { type: 'button', class: 'quiet', 'data-testid': `remove-${node.name}` }, 'remove');
      remove.addEventListener('click', () => void this.controls.removeWorker(node.name));
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
  }

  private renderTimeline(): void {
    const group = byId<HTMLSelectElement>('filter-group').value;
    const type = byId<HTMLSelectElement>('filter-type').value;
    const shown = this.events
      .filter((event) => (group === '' || event.group === group) && (type === '' || event.type === type))
      .slice(-TIMELINE_SHOWN)
      .reverse();
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
}

/** An event's numbers: every field beyond the common ones, nested bags flattened one level. */
function numbersOf(event: JournalEventAnswer): HTMLElement | string {
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
