/**
 * Five-field cron (minute hour day-of-month month day-of-week) and the next fire time
 * in an IANA timezone, computed by croner (a well-kept library; its DST handling is the
 * hard part). What this module adds: the shorthands, Vixie cron's day rule, refusals
 * that name the field, and a cache of compiled schedules for the matcher's clock.
 *
 * - Fields: `*`, `n`, `a-b`, lists `a,b`, steps `* /n`, `a-b/n`, `a/n` (a to the end);
 *   months JAN–DEC and days SUN–SAT by name (any case); day-of-week 0–7, 7 = Sunday.
 * - Shorthands: @hourly, @daily (@midnight), @weekly, @monthly, @yearly (@annually),
 *   and the same words without `@` (`daily`, `weekly`…).
 * - When both day-of-month and day-of-week are restricted (neither starts with `*`),
 *   a day matches if either does (as in Vixie cron); `0 9 1 * MON` is "the 1st and
 *   every Monday". When one starts with `*` (`* /2`), both must match.
 * - Daylight saving time, on the local wall clock of the zone (croner's rules):
 *   a time that does not exist (spring forward) fires when the clock jumps, as Vixie
 *   cron runs jobs of a skipped hour right after the change; a time that happens twice
 *   (fall back) fires once, at its first occurrence, for fixed-time schedules, and on
 *   both passes for interval ones ("every 15 minutes" stays every 15 minutes).
 */
import { Cron, CronPattern } from 'croner';
import { raise } from './errors.ts';

export interface CronSchedule {
  readonly source: string;
  /** The five fields after expanding a shorthand. */
  readonly expression: string;
  readonly minutes: ReadonlySet<number>;
  readonly hours: ReadonlySet<number>;
  readonly daysOfMonth: ReadonlySet<number>;
  readonly months: ReadonlySet<number>;
  /** 0 = Sunday … 6 = Saturday. */
  readonly daysOfWeek: ReadonlySet<number>;
  readonly dayOfMonthStar: boolean;
  readonly dayOfWeekStar: boolean;
}

const SHORTHANDS: Readonly<Record<string, string>> = {
  hourly: '0 * * * *',
  daily: '0 0 * * *',
  midnight: '0 0 * * *',
  weekly: '0 0 * * 0',
  monthly: '0 0 1 * *',
  yearly: '0 0 1 1 *',
  annually: '0 0 1 1 *',
};

const FIELD_NAMES = ['minute', 'hour', 'day of month', 'month', 'day of week'] as const;
const CRONER_OPTIONS = { mode: '5-part', sloppyRanges: true } as const;

const cronerMessage = (err: unknown) => (err instanceof Error ? err.message : String(err)).replace(/^CronPattern:\s*/, '');

/** Which field croner refuses: each alone, the others left as `*`. */
function refusedField(fields: readonly string[], source: string, err: unknown): never {
  for (let i = 0; i < fields.length; i++) {
    const alone = fields.map((f, j) => (j === i ? f : '*')).join(' ');
    try {
      new CronPattern(alone, undefined, CRONER_OPTIONS);
    } catch (fieldErr) {
      throw raise('CRON_INVALID', `cron "${source}": ${FIELD_NAMES[i]} field "${fields[i]}": ${cronerMessage(fieldErr)}`);
    }
  }
  throw raise('CRON_INVALID', `cron "${source}": ${cronerMessage(err)}`);
}

const indexes = (flags: readonly number[], offset = 0) => new Set(flags.flatMap((v, i) => (v ? [i + offset] : [])));

/** Parses a cron expression or shorthand; throws CRON_INVALID naming the field. */
export function parseCron(source: string): CronSchedule {
  if (typeof source !== 'string') throw raise('CRON_INVALID', 'cron must be a string such as "0 9 * * MON-FRI" or "@daily"');
  const trimmed = source.trim();
  if (trimmed.length === 0 || trimmed.length > 200) throw raise('CRON_INVALID', 'cron must be 1 to 200 characters');
  const short = trimmed.toLowerCase().replace(/^@/, '');
  const expression = Object.prototype.hasOwnProperty.call(SHORTHANDS, short) ? SHORTHANDS[short] as string : trimmed;
  if (trimmed.startsWith('@') && expression === trimmed) {
    throw raise('CRON_INVALID', `cron "${source}": unknown shorthand; use @hourly, @daily, @weekly, @monthly or @yearly`);
  }
  const fields = expression.split(/\s+/);
  if (fields.length !== 5) throw raise('CRON_INVALID', `cron "${source}" must have 5 fields (minute hour day-of-month month day-of-week), got ${fields.length}`);
  let pattern: CronPattern;
  try {
    pattern = new CronPattern(fields.join(' '), undefined, CRONER_OPTIONS);
  } catch (err) {
    refusedField(fields, source, err);
  }
  const schedule: CronSchedule = Object.freeze({
    source, expression: fields.join(' '),
    minutes: indexes(pattern.minute), hours: indexes(pattern.hour), daysOfMonth: indexes(pattern.day, 1),
    months: indexes(pattern.month, 1), daysOfWeek: indexes(pattern.dayOfWeek.slice(0, 7)),
    dayOfMonthStar: (fields[2] as string).startsWith('*'), dayOfWeekStar: (fields[4] as string).startsWith('*'),
  });
  // "30 2 31 2 *" would never fire: refuse it now.
  if (compiled(schedule, 'UTC').nextRun(new Date(0)) === null) throw raise('CRON_INVALID', `cron "${source}" never fires: no month has those days`);
  return schedule;
}

/** The canonical name of an IANA timezone (`europe/paris` → `Europe/Paris`), or undefined when unknown. */
export function canonicalTimeZone(name: string): string | undefined {
  if (typeof name !== 'string' || !/^[A-Za-z][A-Za-z0-9_+\-/]{0,63}$/.test(name)) return undefined;
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: name }).resolvedOptions().timeZone;
  } catch {
    return undefined;
  }
}

/** Compiled schedules by (expression, zone): the matcher asks for the same ones every second. */
const cache = new Map<string, Cron>();
const CACHE_MAX = 10_000;

function compiled(s: CronSchedule, zone: string): Cron {
  const key = `${s.expression}\u0000${zone}`;
  let cron = cache.get(key);
  if (!cron) {
    // Vixie cron: a day field starting with * makes the two day fields AND, otherwise OR.
    cron = new Cron(s.expression, { ...CRONER_OPTIONS, timezone: zone, paused: true, domAndDow: s.dayOfMonthStar || s.dayOfWeekStar });
    if (cache.size >= CACHE_MAX) cache.clear();
    cache.set(key, cron);
  }
  return cron;
}

/** The first instant strictly after `after` at which `schedule` fires in `timeZone` (default UTC). */
export function nextFireTime(schedule: CronSchedule | string, after: Date | number, timeZone = 'UTC'): Date {
  const s = typeof schedule === 'string' ? parseCron(schedule) : schedule;
  const afterMs = typeof after === 'number' ? after : after.getTime();
  if (!Number.isFinite(afterMs)) throw new TypeError('nextFireTime: after must be a valid instant');
  const zone = canonicalTimeZone(timeZone);
  if (!zone) throw raise('CRON_INVALID', `unknown timezone "${timeZone}"; use an IANA name such as Europe/Paris`);
  const next = compiled(s, zone).nextRun(new Date(afterMs));
  if (next === null) throw raise('CRON_INVALID', `cron "${s.source}" does not fire any more`);
  return next;
}

/** The next `count` fire times after `after` (for previews in an API or UI). */
export function nextFireTimes(schedule: CronSchedule | string, after: Date | number, count: number, timeZone = 'UTC'): Date[] {
  const s = typeof schedule === 'string' ? parseCron(schedule) : schedule;
  const out: Date[] = [];
  let t: Date | number = after;
  for (let i = 0; i < count; i++) out.push((t = nextFireTime(s, t, timeZone)));
  return out;
}
