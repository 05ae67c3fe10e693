import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../src/store/memory.js';
import { ManualClock } from '../support/app.js';
import { SHORT_TTL, storeContract } from './contract.js';

storeContract('memory', () => {
  const clock = new ManualClock();
  return { store: new MemoryStore(clock), expire: async () => clock.advance(SHORT_TTL) };
});

describe('MemoryStore TTLs', () => {
  it('keeps a value until the last millisecond of its TTL', async () => {
    const clock = new ManualClock();
    const store = new MemoryStore(clock);
    await store.set('k', 'v', 10);
    clock.advance(9.999);
    expect(await store.get('k')).toBe('v');
    clock.advance(0.001);
    expect(await store.get('k')).toBeUndefined();
  });

  it('starts the incr window at the first increment; later increments do not extend it', async () => {
    const clock = new ManualClock();
    const store = new MemoryStore(clock);
    expect(await store.incr('attempts', 10)).toBe(1);
    clock.advance(6);
    expect(await store.incr('attempts', 10)).toBe(2);
    clock.advance(4);
    // 10 s after the first increment: a new window, even though the last one was 4 s ago.
    expect(await store.incr('attempts', 10)).toBe(1);
  });

  it('set after expiry starts a fresh TTL', async () => {
    const clock = new ManualClock();
    const store = new MemoryStore(clock);
    await store.set('k', 'old', 5);
    clock.advance(5);
    await store.set('k', 'new', 5);
    clock.advance(4);
    expect(await store.get('k')).toBe('new');
  });
});
