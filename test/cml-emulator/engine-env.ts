// The environment CML gives every engine (application or job run), as the reference lists its variables.

export interface EngineContext {
  projectId: string;
  projectName: string;
  projectDirectory: string;
  /** host:port of the emulator, what CDSW_DOMAIN holds. */
  domain: string;
  apiUrl: string;
  apiKey: string;
  engineId: string;
}

/**
 * Project variables, then the workload's own (they win, as in CML), then the platform's, which nothing overrides.
 * Only PATH and a few locale variables come from the emulator's own environment, so a test's CML_API_KEY or
 * similar never leaks into a workload.
 */
export function engineEnvironment(context: EngineContext, projectEnv: Record<string, string>, workloadEnv: Record<string, string>, platformExtra: Record<string, string>): Record<string, string> {
  const inherited: Record<string, string> = {};
  for (const name of ['PATH', 'LANG', 'LC_ALL', 'TZ']) {
    const value = process.env[name];
    if (value !== undefined) inherited[name] = value;
  }
  return {
    ...inherited,
    // The engine's output goes to a log file the tests read while it runs.
    PYTHONUNBUFFERED: '1',
    ...projectEnv,
    ...workloadEnv,
    HOME: context.projectDirectory,
    CDSW_PROJECT_ID: context.projectId,
    CDSW_PROJECT: context.projectName,
    CDSW_DOMAIN: context.domain,
    CDSW_API_URL: `${context.apiUrl}/api/v1`,
    CDSW_APIV2_KEY: context.apiKey,
    CDSW_ENGINE_ID: context.engineId,
    CDSW_IP_ADDRESS: '127.0.0.1',
    ...platformExtra,
  };
}
