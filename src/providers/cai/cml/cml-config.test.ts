import { describe, expect, it } from 'vitest';
import { rayfleetErrorOf } from '../../../../test/support/caught.js';
import { connectToCml } from './cml-connection.js';
import { normalizeHost, resolveCmlConfig } from './cml-config.js';
import { maskSecret, redactSecrets, scrubSecrets } from './cml-redact.js';

describe('resolveCmlConfig', () => {
  it('prefers our variables to the ones CML sets inside workloads', () => {
    const env = { CML_API_KEY: 'ours', CDSW_APIV2_KEY: 'cml', CML_HOST: 'https://ml.example.site/', CDSW_DOMAIN: 'other.site', CML_PROJECT_ID: 'p1', CDSW_PROJECT_ID: 'p2' };
    expect(resolveCmlConfig(env)).toEqual({ host: 'https://ml.example.site', apiKey: 'ours', projectId: 'p1' });
  });

  it("falls back to CML's own variables inside a workload", () => {
    expect(resolveCmlConfig({ CDSW_APIV2_KEY: 'cml', CDSW_DOMAIN: 'ml-1.example.site', CDSW_PROJECT_ID: 'p2' })).toEqual({
      host: 'https://ml-1.example.site',
      apiKey: 'cml',
      projectId: 'p2',
    });
    // CDSW_API_URL carries the scheme, so it wins over the https:// guess from CDSW_DOMAIN.
    expect(resolveCmlConfig({ CDSW_APIV2_KEY: 'cml', CDSW_API_URL: 'http://127.0.0.1:9/api/v1', CDSW_DOMAIN: '127.0.0.1:9' }).host).toBe('http://127.0.0.1:9');
  });

  it('is a USAGE error naming the variables to set', async () => {
    const noKey = await rayfleetErrorOf(async () => resolveCmlConfig({ CML_HOST: 'https://x' }));
    expect(noKey.code).toBe('USAGE');
    expect(noKey.message).toMatch(/CML_API_KEY.*CDSW_APIV2_KEY/);
    const noHost = await rayfleetErrorOf(async () => connectToCml({ CML_API_KEY: 'k' }));
    expect(noHost.code).toBe('USAGE');
    expect(noHost.message).toMatch(/CML_HOST.*CDSW_DOMAIN/);
    expect(connectToCml({ CML_API_KEY: 'k', CML_HOST: 'h' }).projectId).toBeUndefined();
    expect(connectToCml({ CML_API_KEY: 'k', CML_HOST: 'h', CML_PROJECT_ID: 'env' }, { projectId: 'spec' }).projectId).toBe('spec');
  });

  it('normalizes hosts as people write them', () => {
    expect(normalizeHost('ml-1.site')).toBe('https://ml-1.site');
    expect(normalizeHost('https://ml-1.site/api/v2/')).toBe('https://ml-1.site');
    expect(normalizeHost('http://127.0.0.1:8080')).toBe('http://127.0.0.1:8080');
  });
});

describe('secrets', () => {
  it('masks a key to a recognizable stub, and a short one entirely', () => {
    expect(maskSecret('abcdefghijklmnopqrstuvwxyz')).toBe('abcd…yz');
    expect(maskSecret('short')).toBe('****');
  });

  it('redacts values under secret-looking names, also inside JSON-encoded strings', () => {
    const redacted = redactSecrets({
      name: 'app',
      environment: { CML_API_KEY: 'k1', RAY_AUTH_TOKEN: 't', DB_PASSWORD: 'p', client_secret: 's', PLAIN: 'v' },
      patch: JSON.stringify({ MY_TOKEN: 'hidden', OTHER: 'shown' }),
    });
    expect(redacted).toEqual({
      name: 'app',
      environment: { CML_API_KEY: '***', RAY_AUTH_TOKEN: '***', DB_PASSWORD: '***', client_secret: '***', PLAIN: 'v' },
      patch: JSON.stringify({ MY_TOKEN: '***', OTHER: 'shown' }),
    });
    expect(scrubSecrets('sent abcdefghijklmnop twice: abcdefghijklmnop', ['abcdefghijklmnop'])).toBe('sent abcd…op twice: abcd…op');
  });
});
