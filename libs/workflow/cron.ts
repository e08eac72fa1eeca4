/**
 * Five-field cron (minute hour day-of-month month day-of-week) and the next fire time
 * in an IANA timezone.
 *
 * - Fields: `*`, `n`, `a-b`, lists `a,b`, steps `* /n`, `a-b/n`, `a/n` (a to the end);
 *   months JAN–DEC and days SUN–SAT by name (any case); day-of-week 0–7, 7 = Sunday.
 * - Shorthands: @hourly, @daily (@midnight), @weekly, @monthly, @yearly (@annually),
 *   and the same words without `@` (`daily`, `weekly`…).
 * - When both day-of-month and day-of-week are restricted (neither starts with `*`),
 *   a day matches if either does (as in Vixie cron); `0 9 1 * MON` is "the 1st and
 *   every Monday".
 * - Daylight saving time, on the local wall clock of the zone:
 *   a time that does not exist (spring forward) fires at the same distance after
 *   the change: 02:30 in Paris on the last Sunday of March fires at 03:30 CEST;
 *   a time that happens twice (fall back) fires once, at its first occurrence, unless
 *   the hour field starts with `*`: then it fires on both passes, so "every 15
 *   minutes" stays every 15 minutes of real time.
 */
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
  readonly hourStar: boolean;
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

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

interface FieldSpec { name: string; min: number; max: number; names?: readonly string[]; nameBase?: number }
const FIELDS: readonly FieldSpec[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: MONTHS, nameBase: 1 },
  { name: 'day of week', min: 0, max: 7, names: DAYS, nameBase: 0 },
];

function parseField(text: string, spec: FieldSpec, source: string): Set<number> {
  const fail = (why: string): never => { throw raise('CRON_INVALID', `cron "${source}": ${spec.name} field "${text}": ${why}`); };
  const value = (token: string): number => {
    const index = spec.names?.indexOf(token.toLowerCase()) ?? -1;
    if (index >= 0) return index + (spec.nameBase ?? 0);
    if (!/^\d{1,2}$/.test(token)) fail(`"${token}" is not a number${spec.names ? ' or a name' : ''}`);
    const n = Number(token);
    if (n < spec.min || n > spec.max) fail(`${n} is outside ${spec.min}-${spec.max}`);
    return n;
  };
  const out = new Set<number>();
  for (const item of text.split(',')) {
    const m = /^([^/]+)(?:\/(\d{1,2}))?$/.exec(item);
    if (!m) fail(`"${item}" is not *, a value, a range or a step`);
    const [, range, stepText] = m as RegExpExecArray;
    const step = stepText === undefined ? 1 : Number(stepText);
    if (step < 1) fail('steps must be at least 1');
    let lo: number;
    let hi: number;
    if (range === '*') [lo, hi] = [spec.min, spec.max];
    else if ((range as string).includes('-')) {
      const [a, b, extra] = (range as string).split('-');
      if (extra !== undefined || !a || !b) fail(`"${range}" is not a range a-b`);
      [lo, hi] = [value(a as string), value(b as string)];
      if (lo > hi) fail(`range ${range} runs backwards`);
    } else {
      lo = value(range as string);
      hi = stepText === undefined ? lo : spec.max;
    }
    for (let n = lo; n <= hi; n += step) out.add(n);
  }
  return out;
}

const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

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
  const [minutes, hours, daysOfMonth, months, daysOfWeek] = fields.map((f, i) => parseField(f, FIELDS[i] as FieldSpec, source)) as [Set<number>, Set<number>, Set<number>, Set<number>, Set<number>];
  if (daysOfWeek.delete(7)) daysOfWeek.add(0);
  const dayOfMonthStar = (fields[2] as string).startsWith('*');
  const dayOfWeekStar = (fields[4] as string).startsWith('*');
  // "30 2 31 2 *" would never fire; refuse it now rather than search for ever.
  if (dayOfWeekStar && ![...months].some((m) => [...daysOfMonth].some((d) => d <= (DAYS_IN_MONTH[m - 1] as number)))) {
    throw raise('CRON_INVALID', `cron "${source}" never fires: no month has those days`);
  }
  return Object.freeze({
    source, expression, minutes, hours, daysOfMonth, months, daysOfWeek,
    dayOfMonthStar, dayOfWeekStar, hourStar: (fields[1] as string).startsWith('*'),
  });
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric',
    });
    formatters.set(timeZone, f);
  }
  return f;
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

/** Offset of the zone's wall clock from UTC at `instantMs`, in ms (wall = instant + offset). */
export function zoneOffsetMs(instantMs: number, timeZone: string): number {
  const parts: Record<string, number> = {};
  for (const p of formatter(timeZone).formatToParts(new Date(instantMs))) if (p.type !== 'literal') parts[p.type] = Number(p.value);
  const wall = Date.UTC(parts.year as number, (parts.month as number) - 1, parts.day, parts.hour, parts.minute, parts.second);
  const seconds = Math.floor(instantMs / 1000) * 1000;
  return wall - seconds;
}

const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
/** More than any DST shift (2 h at most, today), so a wall time this far away is on the far side of it. */
const SHIFT_MARGIN = 3 * HOUR;
const SEARCH_YEARS = 12;

/** The instants whose wall time in `timeZone` is `wall` (ms, wall clock as if UTC): 0, 1 or 2, ascending. */
function instantsOf(wall: number, timeZone: string): number[] {
  const before = zoneOffsetMs(wall - DAY, timeZone);
  const after = zoneOffsetMs(wall + DAY, timeZone);
  const found = [...new Set([before, after])]
    .map((o) => wall - o)
    .filter((t) => zoneOffsetMs(t, timeZone) === wall - t)
    .sort((a, b) => a - b);
  return found;
}

function dayMatches(s: CronSchedule, d: Date): boolean {
  const dom = s.daysOfMonth.has(d.getUTCDate());
  const dow = s.daysOfWeek.has(d.getUTCDay());
  if (s.dayOfMonthStar || s.dayOfWeekStar) return dom && dow;
  return dom || dow;
}

/** The first wall-clock minute at or after `wall` that the schedule names (wall times as if UTC). */
function nextWallMatch(s: CronSchedule, wall: number, limit: number): number | undefined {
  let t = Math.ceil(wall / MINUTE) * MINUTE;
  while (t <= limit) {
    const d = new Date(t);
    if (!s.months.has(d.getUTCMonth() + 1)) { t = Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1); continue; }
    if (!dayMatches(s, d)) { t = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1); continue; }
    if (!s.hours.has(d.getUTCHours())) { t = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), d.getUTCHours() + 1); continue; }
    if (!s.minutes.has(d.getUTCMinutes())) { t += MINUTE; continue; }
    return t;
  }
  return undefined;
}

/** The instants a matching wall time fires at (see the DST rules above). */
function firesAt(s: CronSchedule, wall: number, timeZone: string): number[] {
  const instants = instantsOf(wall, timeZone);
  // In a gap: as far after the change as the wall time is, i.e. with the offset before it.
  if (instants.length === 0) return [wall - zoneOffsetMs(wall - DAY, timeZone)];
  return s.hourStar ? instants : instants.slice(0, 1);
}

/**
 * The first instant strictly after `after` at which `schedule` fires in `timeZone`
 * (default UTC). Throws CRON_INVALID if it does not fire within twelve years.
 */
export function nextFireTime(schedule: CronSchedule | string, after: Date | number, timeZone = 'UTC'): Date {
  const s = typeof schedule === 'string' ? parseCron(schedule) : schedule;
  const afterMs = typeof after === 'number' ? after : after.getTime();
  if (!Number.isFinite(afterMs)) throw new TypeError('nextFireTime: after must be a valid instant');
  const zone = canonicalTimeZone(timeZone);
  if (!zone) throw raise('CRON_INVALID', `unknown timezone "${timeZone}"; use an IANA name such as Europe/Paris`);
  const wallAfter = afterMs + zoneOffsetMs(afterMs, zone);
  const limit = wallAfter + SEARCH_YEARS * 366 * DAY;

  // Usual case: the next matching wall minute, with no offset change in between.
  const first = nextWallMatch(s, Math.floor(wallAfter / MINUTE) * MINUTE + MINUTE, limit);
  if (first === undefined) throw raise('CRON_INVALID', `cron "${s.source}" does not fire within ${SEARCH_YEARS} years`);
  const instants = instantsOf(first, zone);
  if (instants.length === 1 && instants[0] as number > afterMs && zoneOffsetMs(instants[0] as number, zone) === wallAfter - afterMs) {
    return new Date(instants[0] as number);
  }

  // Around a change the wall clock jumps or repeats: scan wall times from a margin
  // before `after` until past the earliest firing found, keeping the earliest.
  let best: number | undefined;
  let wall: number | undefined = Math.floor((wallAfter - SHIFT_MARGIN) / MINUTE) * MINUTE;
  while ((wall = nextWallMatch(s, wall, limit)) !== undefined) {
    if (best !== undefined && wall > best + zoneOffsetMs(best, zone) + SHIFT_MARGIN) break;
    for (const t of firesAt(s, wall, zone)) if (t > afterMs && (best === undefined || t < best)) best = t;
    wall += MINUTE;
  }
  if (best === undefined) throw raise('CRON_INVALID', `cron "${s.source}" does not fire within ${SEARCH_YEARS} years`);
  return new Date(best);
}

/** The next `count` fire times after `after` (for previews in an API or UI). */
export function nextFireTimes(schedule: CronSchedule | string, after: Date | number, count: number, timeZone = 'UTC'): Date[] {
  const s = typeof schedule === 'string' ? parseCron(schedule) : schedule;
  const out: Date[] = [];
  let t: Date | number = after;
  for (let i = 0; i < count; i++) out.push((t = nextFireTime(s, t, timeZone)));
  return out;
}
