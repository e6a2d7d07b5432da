// The dashboard's HTML: a shell per view, rendered on the server, holding no cluster data (the script fetches it with the token).
import { html } from 'hono/html';
import type { HtmlEscapedString } from 'hono/utils/html';

type Html = HtmlEscapedString | Promise<HtmlEscapedString>;

function layout(title: string, page: 'overview' | 'cluster', body: Html): Html {
  return html`<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>${title}</title>
    <link rel="stylesheet" href="/assets/dashboard.css" />
    <script src="/assets/dashboard.js" defer></script>
  </head>
  <body data-page="${page}">
    <header class="bar">
      <a class="brand" href="/">rayfleet</a>
      <span id="crumb"></span>
      <span class="spacer"></span>
      <span id="live" class="badge" data-testid="live">connecting…</span>
      <button id="forget-token" type="button" class="quiet" hidden>forget token</button>
    </header>
    <div id="message" role="alert" data-testid="message" hidden></div>
    <main>${body}</main>
    <dialog id="token-dialog" data-testid="token-dialog">
      <form method="dialog" id="token-form">
        <h2>Dashboard token</h2>
        <p>Changes need the token that <code>rayfleet dashboard --token</code> prints. It is kept in this tab only.</p>
        <input id="token-input" data-testid="token-input" type="password" autocomplete="off" required />
        <menu><button value="cancel" formnovalidate type="submit" class="quiet">cancel</button><button value="ok" type="submit" data-testid="token-ok">use token</button></menu>
      </form>
    </dialog>
    <noscript>The dashboard needs JavaScript; the API is at /api/v1 (OpenAPI: /api/v1/openapi.json).</noscript>
  </body>
</html>`;
}

export function overviewPage(): Html {
  return layout(
    'rayfleet',
    'overview',
    html`<section>
      <h1>Clusters on this machine</h1>
      <table class="grid" data-testid="clusters">
        <thead><tr><th>cluster</th><th>provider</th><th>nodes alive / total</th><th>pending demand</th><th>watcher</th><th>Ray</th></tr></thead>
        <tbody id="clusters-body"><tr><td colspan="6" class="muted">loading…</td></tr></tbody>
      </table>
      <p class="muted">API: <a href="/api/v1/openapi.json">/api/v1/openapi.json</a></p>
    </section>`,
  );
}

export function clusterPage(): Html {
  return layout(
    'rayfleet cluster',
    'cluster',
    html`<section class="head">
        <h1 id="cluster-title">cluster</h1>
        <span id="watcher-state" class="badge" data-testid="watcher-state">watcher: …</span>
        <a id="ray-dashboard" data-testid="ray-dashboard" href="#" target="_blank" rel="noopener noreferrer" hidden>Ray dashboard ↗</a>
        <span class="spacer"></span>
        <button id="pause" type="button" data-testid="pause">pause watcher</button>
      </section>
      <section class="row tables">
        <div class="card">
          <h2>Groups</h2>
          <table class="grid" data-testid="groups">
            <thead><tr><th>group</th><th>min</th><th>max</th><th>running</th><th>launching</th><th>draining</th><th>back-off</th><th></th></tr></thead>
            <tbody id="groups-body"></tbody>
          </table>
          <form id="add-worker" class="inline" data-testid="add-worker-form">
            <label>add <input id="add-count" data-testid="add-count" type="number" min="1" max="100" value="1" /></label>
            <label>worker(s) to <select id="add-group" data-testid="add-group"></select></label>
            <button type="submit" data-testid="add-worker">add worker</button>
          </form>
          <p id="withheld" class="withheld" data-testid="withheld" hidden></p>
        </div>
        <div class="card">
          <h2>Nodes</h2>
          <table class="grid" data-testid="nodes">
            <thead><tr><th>node</th><th>group</th><th>provider</th><th>Ray</th><th>CPU used/total</th><th>GPU used/total</th><th>memory used/total</th><th>idle</th><th></th></tr></thead>
            <tbody id="nodes-body"></tbody>
          </table>
        </div>
      </section>
      <section class="row">
        <div class="card chart"><h2>Nodes per group</h2><div id="nodes-chart" data-testid="nodes-chart"></div></div>
        <div class="card chart"><h2>Pending demand by shape</h2><div id="demand-chart" data-testid="demand-chart"></div></div>
      </section>
      <section class="card">
        <h2>Decisions</h2>
        <form id="timeline-filter" class="inline">
          <label>group <select id="filter-group" data-testid="filter-group"><option value="">all</option></select></label>
          <label>type <select id="filter-type" data-testid="filter-type">
            <option value="">all</option>
            <option value="scale-up">scale-up</option>
            <option value="withheld">withheld</option>
            <option value="launch">launch</option>
            <option value="launch-failed">launch failed</option>
            <option value="registered">registered</option>
            <option value="drain">drain</option>
            <option value="drain-rejected">drain rejected</option>
            <option value="terminate">terminate</option>
            <option value="failure">failure</option>
            <option value="infeasible">infeasible</option>
            <option value="spec-changed">spec changed</option>
            <option value="watcher">watcher</option>
          </select></label>
        </form>
        <ol id="timeline" class="timeline" data-testid="timeline" reversed></ol>
      </section>`,
  );
}
