// Durations as people write them: 500ms, 1s, 5m, 1h, 1m30s, or a plain number of seconds (as the old WATCHER_* variables were).
import { RayfleetError } from '../errors.js';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

export function parseDuration(input: string | number): number {
  if (typeof input === 'number') {
    if (Number.isFinite(input) && input >= 0) return input * 1000;
    throw new RayfleetError('SPEC_INVALID', `duration ${input} must be seconds >= 0`);
  }
  const text = input.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text) * 1000;
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((part) => part[0]).join('') !== text) {
    throw new RayfleetError('SPEC_INVALID', `"${input}" is not a duration: write seconds, or e.g. 500ms, 30s, 5m, 1h, 1m30s`);
  }
  return parts.reduce((total, part) => total + Number(part[1]) * (UNIT_MS[part[2] ?? 's'] ?? 1000), 0);
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  const secondsPart = seconds % 60 === 0 ? '' : `${seconds % 60}s`;
  if (minutes < 60) return `${minutes}m${secondsPart}`;
  // The seconds stay, so 1h1s does not read as 1h (in "1h1s is longer than 1h", say).
  return `${Math.floor(minutes / 60)}h${minutes % 60 === 0 ? '' : `${minutes % 60}m`}${secondsPart}`;
}
