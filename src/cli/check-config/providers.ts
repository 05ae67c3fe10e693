import { systemClock } from '../../clock.js';
import type { Config } from '../../config/types.js';
import { isPorteroError } from '../../errors.js';
import { reasonOf } from '../../flow/grant-errors.js';
import { type ConfiguredProvider, configureProviders, metadataOf, providerOptions } from '../../flow/provider-client.js';
import { type CheckResult, result } from './checks.js';

/** Why a provider's configuration could not be made: discovery's coded failure with where it asked, or a refusal (a templated issuer). */
function discoveryFailure(err: unknown): string {
  if (!isPorteroError(err)) return (err as Error).message;
  const { url, reason } = err.detail;
  return `${err.message}${typeof url === 'string' ? ` at ${url}` : ''}: ${String(reason)}`;
}

/**
 * Whether an endpoint portero calls from the server answers: any HTTP answer within
 * PROVIDER_TIMEOUT, over TLS that verifies. The token endpoint is sent a POST with an empty form
 * and no credentials (a refusal, 400 or 401, is the answer expected), userinfo a GET without a
 * token (401); a 404 there is a warning: the server is there, the path may be wrong. The JWKS
 * must answer 2xx, for ID tokens are checked with it.
 */
async function answers(what: string, name: string, url: string, timeout: number): Promise<CheckResult> {
  const post = name === 'token_endpoint';
  try {
    const response = await fetch(url, {
      method: post ? 'POST' : 'GET',
      redirect: 'manual',
      headers: { accept: 'application/json', ...(post ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) },
      ...(post ? { body: '' } : {}),
      signal: AbortSignal.timeout(timeout * 1000),
    });
    await response.body?.cancel();
    const answered = `${name} ${url} answers (HTTP ${response.status})`;
    if (name === 'jwks_uri' && !response.ok) return result('FAIL', what, `${answered}: ID tokens could not be validated without its keys`);
    if (response.status === 404) return result('warn', what, `${answered}: is the path right?`);
    return result('ok', what, answered);
  } catch (err) {
    const timedOut = err instanceof DOMException && err.name === 'TimeoutError';
    return result('FAIL', what, `${name} ${url}: ${timedOut ? `no answer within PROVIDER_TIMEOUT (${timeout} s)` : reasonOf(err)}`);
  }
}

/**
 * One provider as the first login meets it: discovery (or its configured endpoints), then each
 * endpoint portero itself calls: token, userinfo, JWKS. The authorization endpoint is the
 * browser's to reach, not checked from here.
 */
async function checkProvider(provider: ConfiguredProvider, timeout: number): Promise<CheckResult[]> {
  const what = `provider ${provider.id} (${provider.definition.type})`;
  const server = provider.definition.server(provider.settings);
  let metadata: ReturnType<typeof metadataOf>;
  try {
    metadata = metadataOf(await provider.client());
  } catch (err) {
    return [result('FAIL', what, discoveryFailure(err))];
  }
  const found: CheckResult[] = [];
  if (server.kind === 'discovery') found.push(result('ok', what, `discovery answers: issuer ${metadata.issuer}`));
  const { token_endpoint, userinfo_endpoint, jwks_uri } = metadata;
  const endpoints = Object.entries({ token_endpoint, userinfo_endpoint, jwks_uri }).filter(
    (entry): entry is [string, string] => typeof entry[1] === 'string',
  );
  found.push(...(await Promise.all(endpoints.map(([name, url]) => answers(what, name, url, timeout)))));
  return found;
}

/** Every configured provider, side by side; without one, what development mode would do instead. */
export async function checkProviders(config: Config): Promise<CheckResult[]> {
  if (config.providers.length === 0) {
    return config.dev.idp
      ? [
          result(
            'skip',
            'providers',
            'none configured: development mode would start the built-in IdP as provider "dev" (any user name signs in)',
          ),
        ]
      : [result('skip', 'providers', 'none configured (see the problems above)')];
  }
  const providers = configureProviders(config.providers, { ...providerOptions(config), clock: systemClock });
  const timeout = config.flow.providerTimeout;
  return (await Promise.all([...providers.values()].map((provider) => checkProvider(provider, timeout)))).flat();
}
