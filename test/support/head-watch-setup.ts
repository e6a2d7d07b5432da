// Set up in every e2e file: once a watched cluster's head is lost, each later test fails at once, naming it.
import { beforeEach } from 'vitest';
import { lostHead } from './head-watch.js';

beforeEach(() => {
  const lost = lostHead();
  if (lost !== undefined) throw new Error(`${lost.message.split('\n')[0]} (its GCS log's tail is printed above)`);
});
