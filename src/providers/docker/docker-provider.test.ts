import { describe, expect, it } from 'vitest';
import { stateOf } from './docker-provider.js';

const now = Date.now() / 1000;

describe('stateOf', () => {
  it.each([
    ['running', 'Up 3 seconds', now, 'running'],
    ['created', 'Created', now, 'starting'],
    ['created', 'Created', now - 3600, 'failed'],
    ['restarting', 'Restarting', now, 'starting'],
    ['removing', 'Removal In Progress', now, 'stopping'],
    ['exited', 'Exited (0) 2 seconds ago', now, 'stopped'],
    ['exited', 'Exited (137) 2 seconds ago', now, 'failed'],
    ['dead', 'Dead', now, 'failed'],
  ] as const)('%s (%s) is %s', (State, Status, Created, expected) => {
    expect(stateOf({ State, Status, Created })).toBe(expected);
  });
});
