// The cluster page's charts: nodes per group and pending demand over the chosen window, with launches and drains marked.
import uPlot from 'uplot';
import { api } from './api-client.js';
import type { HistoryAnswer, JournalEventAnswer } from './api-types.js';
import { CHART_WINDOWS, chartWindowSelect, type ChartWindow } from './chart-window.js';
import { byId, replaceChildren } from './dom.js';

/** A refresh no more often than this; a wide window's buckets are longer still, and it waits a bucket. */
const HISTORY_REFRESH_MS = 3000;
const CHART_HEIGHT = 220;
const MIN_CHART_WIDTH = 300;
const PALETTE = ['#2f7ed8', '#e4572e', '#29a36a', '#a05fd1', '#f2a93b', '#17becf', '#8c564b', '#d62790'];
/** Event kinds drawn on the charts as vertical marks. */
const MARKS: Record<string, string> = { launch: '#29a36a', 'scale-up': '#29a36a', drain: '#f2a93b', terminate: '#888888', 'launch-failed': '#e4572e' };

interface Chart {
  containerId: string;
  axisLabel: string;
  /** Whether a key of the history is one of this chart's series. */
  draws: (key: string) => boolean;
  /** A series' name in the legend. */
  label: (key: string) => string;
  plot?: uPlot;
  /** The keys the plot was made for: another set makes a new plot. */
  signature?: string;
}

export class ClusterCharts {
  private window: ChartWindow = CHART_WINDOWS[0];
  private refreshTimer: ReturnType<typeof setTimeout> | undefined;
  /** Counts requests, so an answer for a window no longer chosen is not drawn over the new one. */
  private asked = 0;
  private readonly charts: Chart[] = [
    {
      containerId: 'nodes-chart',
      axisLabel: 'workers',
      draws: (key) => key.startsWith('nodes/') && !key.endsWith('/dead'),
      label: (key) => key.slice('nodes/'.length).replace('/', ' '),
    },
    { containerId: 'demand-chart', axisLabel: 'requests waiting', draws: (key) => key.startsWith('demand/'), label: (key) => key.slice('demand/'.length) },
  ];

  /** `events` are the journal's newest, marked where they fall in the window. */
  constructor(
    private readonly clusterPath: string,
    private readonly events: () => readonly JournalEventAnswer[],
  ) {}

  async start(): Promise<void> {
    const section = byId('nodes-chart').closest('section');
    section?.before(
      chartWindowSelect((window) => {
        this.window = window;
        void this.refresh();
      }),
    );
    window.addEventListener('resize', () => this.resize());
    await this.refresh();
  }

  /** A new event of a marked kind shows at once, not at the next refresh. */
  showEvent(event: JournalEventAnswer): void {
    if (event.type in MARKS) for (const chart of this.charts) chart.plot?.redraw(false);
  }

  private async refresh(): Promise<void> {
    clearTimeout(this.refreshTimer);
    this.asked += 1;
    const ask = this.asked;
    const since = new Date(Date.now() - this.window.spanMs).toISOString();
    let history: HistoryAnswer | undefined;
    try {
      // No step: the server picks about 600 buckets over whatever window is chosen.
      history = await api<HistoryAnswer>('GET', `${this.clusterPath}/history?since=${encodeURIComponent(since)}`);
    } catch {
      // The stream shows the problem; the charts keep what they drew.
    }
    if (ask !== this.asked) return;
    if (history !== undefined) for (const chart of this.charts) this.draw(chart, history);
    this.refreshTimer = setTimeout(() => void this.refresh(), Math.max(HISTORY_REFRESH_MS, history?.stepMs ?? 0));
  }

  private draw(chart: Chart, history: HistoryAnswer): void {
    // A series never above zero in the window gets no line and no legend entry: the history reads a key it lacks as zero, so
    // a group of an earlier cluster of this name, or a shape asked for hours ago, would otherwise crowd the legend.
    const keys = Object.keys(history.series)
      .filter((key) => chart.draws(key) && history.series[key]?.some((value) => value !== null && value > 0))
      .sort();
    const data = [history.times.map((time) => time / 1000), ...keys.map((key) => history.series[key] ?? [])] as uPlot.AlignedData;
    const signature = keys.join('|');
    if (chart.plot !== undefined && chart.signature === signature) {
      chart.plot.setData(data);
      return;
    }
    chart.plot?.destroy();
    chart.signature = signature;
    const container = byId(chart.containerId);
    replaceChildren(container);
    const options: uPlot.Options = {
      width: Math.max(MIN_CHART_WIDTH, container.clientWidth),
      height: CHART_HEIGHT,
      scales: { x: { time: true }, y: { range: (_plot, _min, max) => [0, Math.max(1, max + 1)] } },
      axes: [{}, { label: chart.axisLabel }],
      series: [
        {},
        ...keys.map((key, index) => ({
          label: chart.label(key),
          stroke: PALETTE[index % PALETTE.length] as string,
          width: 2,
          paths: uPlot.paths.stepped?.({ align: 1 }),
          dash: key.endsWith('/launching') ? [6, 4] : undefined,
          spanGaps: false,
        })),
      ],
      hooks: { draw: [(plot) => this.drawMarks(plot)] },
    };
    chart.plot = new uPlot(options, data, container);
  }

  /** Launches, drains and terminations in the window as thin vertical lines, so a rise in nodes shows its cause. */
  private drawMarks(plot: uPlot): void {
    const context = plot.ctx;
    const [first, last] = [plot.scales.x?.min, plot.scales.x?.max];
    if (first === undefined || last === undefined) return;
    context.save();
    context.lineWidth = 1;
    for (const event of this.events()) {
      const color = MARKS[event.type];
      const at = Date.parse(event.time) / 1000;
      if (color === undefined || at < first || at > last) continue;
      const x = Math.round(plot.valToPos(at, 'x', true));
      context.strokeStyle = color;
      context.setLineDash(event.type === 'terminate' ? [2, 3] : []);
      context.beginPath();
      context.moveTo(x, plot.bbox.top);
      context.lineTo(x, plot.bbox.top + plot.bbox.height);
      context.stroke();
    }
    context.restore();
  }

  private resize(): void {
    for (const chart of this.charts) chart.plot?.setSize({ width: Math.max(MIN_CHART_WIDTH, byId(chart.containerId).clientWidth), height: CHART_HEIGHT });
  }
}
