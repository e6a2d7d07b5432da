// events: the cluster's journal, every launch, drain, terminate and failure with its reason.
import { Command } from 'commander';
import { summarizeEvent } from '../../journal/event.js';
import { parseDuration } from '../../spec/durations.js';
import { formatTable } from '../format-table.js';
import { openFleet, withCommonOptions, withFleet, type CommonOptions } from '../context.js';
import { printJson, printLine } from '../output.js';

interface EventsOptions extends CommonOptions {
  json?: boolean;
  since?: string;
}

export function eventsCommand(): Command {
  const command = new Command('events')
    .description('every decision and action on the cluster, with its reason')
    .option('--json', 'print JSON (one array)')
    .option('--since <duration>', 'only events of the last DURATION, e.g. 10m, 1h');
  withCommonOptions(command).action(async (options: EventsOptions) => {
    const fleet = await openFleet(options, {}, false);
    await withFleet(fleet, async () => {
      const since = options.since === undefined ? undefined : new Date(Date.now() - parseDuration(options.since));
      const { events, skippedLines } = await fleet.events({ since });
      if (skippedLines.length > 0) process.stderr.write(`warning: skipped torn journal line(s) ${skippedLines.join(', ')} of ${fleet.paths.journal}\n`);
      if (options.json === true) printJson(events);
      else printLine(formatTable(['TIME', 'TYPE', 'WHAT'], events.map((event) => [event.time, event.type, summarizeEvent(event)])));
    });
  });
  return command;
}
