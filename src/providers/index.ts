import { apple } from './apple.js';
import { bitbucket } from './bitbucket.js';
import { discord } from './discord.js';
import { facebook } from './facebook.js';
import { auth0 } from './auth0.js';
import { authentik } from './authentik.js';
import { github } from './github.js';
import { gitlab } from './gitlab.js';
import { google } from './google.js';
import { keycloak } from './keycloak.js';
import { linkedin } from './linkedin.js';
import { microsoft } from './microsoft.js';
import { oauth2 } from './oauth2.js';
import { oidc } from './oidc.js';
import { okta } from './okta.js';
import { slack } from './slack.js';
import { twitch } from './twitch.js';
import type { ProviderDefinition } from './types.js';

export { idTokenRefused, profileRefused } from './errors.js';
export type {
  AccessRules,
  ClaimValue,
  ClientKey,
  ClientKeyAlgorithm,
  ResponseMode,
  TokenAuthMethod,
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
export const presets: ProviderRegistry = Object.freeze({
  oidc,
  oauth2,
  google,
  github,
  microsoft,
  apple,
  facebook,
  discord,
  bitbucket,
  gitlab,
  keycloak,
  okta,
  auth0,
  authentik,
  linkedin,
  slack,
  twitch,
});

export function findPreset(type: string, registry: ProviderRegistry = presets): ProviderDefinition | undefined {
  return Object.hasOwn(registry, type) ? registry[type] : undefined;
}
