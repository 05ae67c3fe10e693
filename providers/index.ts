import { github } from './github.js';
import { google } from './google.js';
import { microsoft } from './microsoft.js';
import { oauth2 } from './oauth2.js';
import { oidc } from './oidc.js';
import type { Provider } from './types.js';

export type { Endpoints, JsonObject, Profile, ProfileSource, Provider } from './types.js';

/** Every preset an operator can name in `PROVIDER_<ID>_TYPE`. */
export const presets: Readonly<Record<string, Provider>> = Object.freeze({
  oidc,
  oauth2,
  google,
  github,
  microsoft,
});

export function findPreset(type: string): Provider | undefined {
  return Object.hasOwn(presets, type) ? presets[type] : undefined;
}
