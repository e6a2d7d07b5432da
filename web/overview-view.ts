// The overview: every cluster up on this machine, refreshed every two seconds.
import { api } from './api-client.js';
import type { ClusterListAnswer } from './api-types.js';
import { byId, el, replaceChildren } from './dom.js';
import { setLive } from './header-bar.js';
import { describeError, showMessage } from './message-box.js';
import { watcherWords } from './watcher-words.js';

const OVERVIEW_REFRESH_MS = 2000;

export async function showOverview(): Promise<void> {
  const body = byId('clusters-body');
  const refresh = async (): Promise<void> => {
    try {
      const { clusters } = await api<ClusterListAnswer>('GET', '/clusters');
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
