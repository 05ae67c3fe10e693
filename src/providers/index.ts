import { github } from './github.js';
import { google } from './google.js';
import { microsoft } from './microsoft.js';
import { oauth2 } from './oauth2.js';
import { oidc } from './oidc.js';
import type { ProviderDefinition } from './types.js';

export { idTokenRefused, profileRefused } from './errors.js';
export type {
  AccessRules,
  ClaimValue,
  CommonSettings,
  Endpoints,
  JsonObject,
  Profile,
  ProfileSource,
  ProviderDefinition,
  ProviderServer,
  ProviderSettings,
  SettingsReader,
} from './types.js';
export { providerPrefix } from './settings.js';
export { defineProvider } from './types.js';

/** Provider types by name, as an operator names them in `PROVIDER_<ID>_TYPE`. */
export type ProviderRegistry = Readonly<Record<string, ProviderDefinition>>;

/** Every preset portero ships. */
export const presets: ProviderRegistry = Object.freeze({ oidc, oauth2, google, github, microsoft });

export function findPreset(type: string, registry: ProviderRegistry = presets): ProviderDefinition | undefined {
  return Object.hasOwn(registry, type) ? registry[type] : undefined;
}
