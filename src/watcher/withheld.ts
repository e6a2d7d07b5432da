// Why a scale-up was held back, as one word the journal and the dashboard filter by.
import type { withheldCauses } from '../journal/event.js';

export type WithheldCause = (typeof withheldCauses)[number];

/** The planner says why in words; these are the words each of its reasons carries. */
export function withheldCause(reason: string): WithheldCause {
  if (reason.includes('pendingThreshold')) return 'threshold';
  if (reason.startsWith('cooldown')) return 'cooldown';
  if (reason.includes('back')) return 'backoff';
  if (reason.includes('paused')) return 'paused';
  return 'max';
}
