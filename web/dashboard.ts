// The dashboard's one script: the header bar on every view, then the overview or one cluster's page, as the shell says.
import { ClusterView } from './cluster-view.js';
import { watchTokenButton } from './header-bar.js';
import { showOverview } from './overview-view.js';

function start(): void {
  watchTokenButton();
  const page = document.body.dataset.page;
  if (page === 'overview') void showOverview();
  else if (page === 'cluster') {
    const name = decodeURIComponent(location.pathname.split('/')[2] ?? '');
    void new ClusterView(name).start();
  }
}

start();
