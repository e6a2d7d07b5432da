// Faults the tests switch on at runtime: latency, error answers, requests that hang, answers missing fields, applications that fail to start.

/** Which requests a rule applies to; a rule without a match applies to every request. */
export interface RequestMatch {
  method?: string;
  /** A substring of the path, or a pattern it must match. */
  path?: string | RegExp;
}

export type FaultRule =
  | (RequestMatch & {
      kind: 'status';
      /** e.g. 429, 500, 503. */
      status: number;
      /** The body's gRPC code; derived from the status when absent. */
      grpcCode?: number;
      message?: string;
      /** Perform the request first, then answer the error: the client is told it failed when it took effect. */
      afterEffect?: boolean;
      /** How many matching requests get it; 1 when absent, Infinity for all. */
      times?: number;
    })
  | (RequestMatch & {
      kind: 'hang';
      /** Perform the request first, then never answer: the client cannot know it took effect. */
      afterEffect?: boolean;
      times?: number;
    })
  | (RequestMatch & {
      kind: 'omit-fields';
      /** Left out of the answer, and of every object in its lists (`applications`, `jobs` …), as a server that does not send them. */
      fields: string[];
      times?: number;
    });

export interface FaultSettings {
  /** Added before every answer. */
  latencyMs?: number;
  rules?: FaultRule[];
  /** Applications with a matching name do not start: no process is launched and their status is FAILED. */
  failToStart?: Array<string | RegExp>;
}

export class Faults {
  private settings: FaultSettings = {};
  private remaining = new Map<FaultRule, number>();

  set(settings: FaultSettings): void {
    this.settings = settings;
    this.remaining = new Map((settings.rules ?? []).map((rule) => [rule, rule.times ?? 1]));
  }

  get latencyMs(): number {
    return this.settings.latencyMs ?? 0;
  }

  /** The first rule that matches and has uses left, which uses it up once. */
  take(method: string, path: string): FaultRule | undefined {
    for (const [rule, left] of this.remaining) {
      if (left <= 0 || !matches(rule, method, path)) continue;
      this.remaining.set(rule, left - 1);
      return rule;
    }
    return undefined;
  }

  failsToStart(applicationName: string): boolean {
    return (this.settings.failToStart ?? []).some((pattern) => (typeof pattern === 'string' ? pattern === applicationName : pattern.test(applicationName)));
  }
}

function matches(rule: RequestMatch, method: string, path: string): boolean {
  if (rule.method !== undefined && rule.method.toUpperCase() !== method) return false;
  if (rule.path === undefined) return true;
  return typeof rule.path === 'string' ? path.includes(rule.path) : rule.path.test(path);
}
