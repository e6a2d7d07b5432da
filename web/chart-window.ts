// How far back the cluster's charts reach: the last 15 minutes unless a person widens it with the select above the charts.
import { el } from './dom.js';

export interface ChartWindow {
  value: string;
  label: string;
  spanMs: number;
}

const MINUTE_MS = 60_000;

/**
 * The first is the default: wide enough to show a scale-up and its drain, narrow enough that a cluster just up fills the
 * chart rather than a sliver at its right edge. The widest is all the history keeps (seven days: observation-history.ts).
 */
export const CHART_WINDOWS: readonly [ChartWindow, ...ChartWindow[]] = [
  { value: '15m', label: 'last 15 min', spanMs: 15 * MINUTE_MS },
  { value: '1h', label: 'last hour', spanMs: 60 * MINUTE_MS },
  { value: '6h', label: 'last 6 hours', spanMs: 6 * 60 * MINUTE_MS },
  { value: '24h', label: 'last 24 hours', spanMs: 24 * 60 * MINUTE_MS },
  { value: '7d', label: 'last 7 days (all kept)', spanMs: 7 * 24 * 60 * MINUTE_MS },
];

/** A labelled select of the windows, the default chosen; `onChange` gets each window a person picks. */
export function chartWindowSelect(onChange: (window: ChartWindow) => void): HTMLElement {
  const select = el(
    'select',
    { id: 'chart-window', 'data-testid': 'chart-window' },
    ...CHART_WINDOWS.map((window) => el('option', { value: window.value }, window.label)),
  );
  select.addEventListener('change', () => onChange(CHART_WINDOWS.find((window) => window.value === select.value) ?? CHART_WINDOWS[0]));
  return el('label', { class: 'chart-window' }, 'charts show the ', select);
}
