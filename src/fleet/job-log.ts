// A job's log in two parts: Ray's preamble (its own log lines, then "Running entrypoint for job …") and the entrypoint's output.

/** The line Ray's job supervisor writes just before it starts the entrypoint (Ray 2.60 job_supervisor.py). */
export function entrypointMarker(submissionId: string, entrypoint: string): string {
  return `Running entrypoint for job ${submissionId}: ${entrypoint}\n`;
}

/** A line of Ray's own logger, as the job manager writes into the job's log before the entrypoint runs. */
const RAY_LOG_LINE = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2},\d{3}\t[A-Z]+ \S+:\d+ -- /;

export interface JobLogSinks {
  /** Ray's lines before the entrypoint started. */
  preamble: (text: string) => void;
  /** What the entrypoint printed. */
  output: (text: string) => void;
}

/**
 * Sorts a job's log, written to it in order, into Ray's preamble and the entrypoint's output. Text is held back only while
 * it can still be preamble; a log without Ray's preamble (another Ray version) passes through as output.
 */
export class JobLogSplitter {
  private pending = '';

  /** `pastPreamble`: the log is written from a point after the preamble (a follower resuming, `--tail`). */
  constructor(
    private readonly marker: string,
    private readonly sinks: JobLogSinks,
    private decided = false,
  ) {}

  write(text: string): void {
    if (this.decided) {
      if (text !== '') this.sinks.output(text);
      return;
    }
    this.pending += text;
    const at = this.pending.indexOf(this.marker);
    if (at >= 0) {
      this.decide(at + this.marker.length);
      return;
    }
    let lineStart = 0;
    while (lineStart < this.pending.length) {
      const rest = this.pending.slice(lineStart);
      // The marker may be arriving in pieces (an entrypoint of several lines).
      if (this.marker.startsWith(rest)) return;
      const end = this.pending.indexOf('\n', lineStart);
      // A line not yet whole cannot be judged; the end of the log judges it.
      if (end < 0) return;
      if (!RAY_LOG_LINE.test(this.pending.slice(lineStart, end))) {
        this.decide(0);
        return;
      }
      lineStart = end + 1;
    }
  }

  /**
   * The log has ended: whole lines held back are Ray's (the entrypoint never ran: a runtime env that failed, a job
   * stopped early); a last line without its newline is Ray's only if it reads as Ray's.
   */
  end(): void {
    if (this.decided) return;
    const last = this.pending.slice(this.pending.lastIndexOf('\n') + 1);
    this.decide(last === '' || RAY_LOG_LINE.test(last) || this.marker.startsWith(last) ? this.pending.length : this.pending.length - last.length);
  }

  private decide(preambleEnd: number): void {
    const preamble = this.pending.slice(0, preambleEnd);
    const output = this.pending.slice(preambleEnd);
    this.pending = '';
    this.decided = true;
    if (preamble !== '') this.sinks.preamble(preamble);
    if (output !== '') this.sinks.output(output);
  }
}

/** The same split of a whole log at once: where the entrypoint's output starts in it (its length when it never started). */
export function entrypointOutputStart(log: string, marker: string): number {
  let start = log.length;
  const splitter = new JobLogSplitter(marker, { preamble: () => undefined, output: (text) => (start = Math.min(start, log.length - text.length)) });
  splitter.write(log);
  return start;
}
