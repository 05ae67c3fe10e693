import { expect } from 'vitest';
import { parseConfig } from '../../src/config/parse.js';
import { PorteroError } from '../../src/errors.js';
import { loginDeps, type LoginDeps } from '../../src/flow/login.js';
import { configureProviders, providerOptions } from '../../src/flow/provider-client.js';
import { type ProviderRegistry, presets } from '../../src/providers/index.js';
import { MemoryStore } from '../../src/store/memory.js';
import { ManualClock, TEST_COOKIE_SECRET } from './app.js';

/** The flow's dependencies for the providers these variables configure (by the presets, or `registry`), on a memory store. */
export function flowDepsFor(env: Record<string, string>, registry: ProviderRegistry = presets): LoginDeps {
  const config = parseConfig({ PUBLIC_URL: 'https://gateway.test', COOKIE_SECRET: TEST_COOKIE_SECRET, ...env }, registry);
  const clock = new ManualClock();
  return loginDeps(config.flow, {
    store: new MemoryStore(clock),
    providers: configureProviders(config.providers, { ...providerOptions(config), registry, clock }),
    clock,
  });
}

/** The PorteroError a promise rejects with (and a failed expectation if it resolves). */
export async function rejection(promise: Promise<unknown>): Promise<PorteroError> {
  const error = await promise.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(PorteroError);
  return error as PorteroError;
}
