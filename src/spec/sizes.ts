// Byte sizes as people write them: 1GB (SI), 1GiB (binary), 512M (binary, as Docker reads it), or plain bytes.
import { RayfleetError } from '../errors.js';

const BYTES_PER_UNIT: Record<string, number> = {
  '': 1,
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  k: 2 ** 10,
  m: 2 ** 20,
  g: 2 ** 30,
  t: 2 ** 40,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
};

export function parseSize(input: string | number): number {
  if (typeof input === 'number') {
    if (Number.isFinite(input) && input >= 0) return Math.floor(input);
    throw new RayfleetError('SPEC_INVALID', `size ${input} must be a number of bytes >= 0`);
  }
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(input);
  const factor = BYTES_PER_UNIT[match?.[2]?.toLowerCase() ?? '?'];
  if (match?.[1] === undefined || factor === undefined) {
    throw new RayfleetError('SPEC_INVALID', `"${input}" is not a size: write bytes, or a number with KB, MB, GB (SI), KiB, MiB, GiB or K, M, G (binary), e.g. 1GB, 512MiB`);
  }
  return Math.floor(Number(match[1]) * factor);
}

export function formatSize(bytes: number): string {
  for (const [unit, factor] of [['TiB', 2 ** 40], ['GiB', 2 ** 30], ['MiB', 2 ** 20], ['KiB', 2 ** 10]] as const) {
    if (bytes >= factor) return `${Math.round((bytes / factor) * 10) / 10} ${unit}`;
  }
  return `${bytes} B`;
}
