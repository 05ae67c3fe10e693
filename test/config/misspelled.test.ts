import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/parse.js';

describe('a variable that looks like a misspelt setting', () => {
  it('is warned about with the nearest setting, and starts nevertheless', () => {
    const config = parseConfig({ REDIS_ULR: 'redis://redis:6379', JWT_KEY: '/run/secrets/keys.json', RATE_LIMIT_LOGN: 'off' });
    expect(config.warnings).toEqual([
      'REDIS_ULR is not a setting of portero: did you mean REDIS_URL? (it is ignored)',
      'JWT_KEY is not a setting of portero: did you mean JWT_KEYS? (it is ignored)',
      'RATE_LIMIT_LOGN is not a setting of portero: did you mean RATE_LIMIT_LOGIN? (it is ignored)',
    ]);
    expect(config.redis.topology).toBeUndefined();
  });

  it("leaves alone what a shell or a platform sets: Kubernetes' service variables, HOME, PATH", () => {
    const config = parseConfig({
      HOME: '/root',
      PATH: '/usr/bin',
      HOSTNAME: 'portero-7d9f',
      REDIS_PORT: 'tcp://10.0.0.7:6379',
      REDIS_SERVICE_HOST: '10.0.0.7',
      NODE_OPTIONS: '--max-old-space-size=256',
    });
    expect(config.warnings).toEqual([]);
  });
});
