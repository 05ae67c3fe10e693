import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../src/store/memory.js';
import { ManualClock } from '../support/app.js';
import { SHORT_TTL, storeContract } from './contract.js';

storeContract('memory', () => {
  const clock = new ManualClock();
  const store = new MemoryStore(clock);
  return {
    store,
    expire: async () => clock.advance(SHORT_TTL),
    advance: (seconds) => clock.advance(seconds),
    close: () => store.close(),
  };
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

  it('set after expiry starts a fresh TTL', async () => {
    const clock = new ManualClock();
    const store = new MemoryStore(clock);
    await store.set('k', 'old', 5);
    clock.advance(5);
    await store.set('k', 'new', 5);
    clock.advance(4);
    expect(await store.get('k')).toBe('new');
  });

  it('a lock extended by its owner outlives its first TTL, and then expires', async () => {
    const clock = new ManualClock();
    const store = new MemoryStore(clock);
    await store.setIfAbsent('lock', 'me', 10);
    clock.advance(8);
    expect(await store.expireIfValue('lock', 'me', 10)).toBe(true);
    clock.advance(8);
    expect(await store.get('lock')).toBe('me');
    clock.advance(2);
    expect(await store.get('lock')).toBeUndefined();
    expect(await store.expireIfValue('lock', 'me', 10)).toBe(false);
  });
});
