import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HubError } from '../../libs/errors/index.ts';
import { canonicalTimeZone, nextFireTime, nextFireTimes, parseCron } from '../../libs/workflow/cron.ts';

const iso = (dates: Date[]) => dates.map((d) => d.toISOString());
const at = (text: string) => Date.parse(text);

function refused(expr: unknown, message: RegExp): void {
  assert.throws(() => parseCron(expr as string), (err: unknown) => {
    assert.ok(err instanceof HubError, String(err));
    assert.equal(err.code, 'CRON_INVALID');
    assert.equal(err.status, 400);
    assert.equal(err.retriable, false);
    assert.match(err.message, message);
    return true;
  });
}

test('parseCron: values, ranges, steps, lists and names', () => {
  const s = parseCron('*/15 9-17 1,15 JAN-mar mon-FRI');
  assert.deepEqual([...s.minutes], [0, 15, 30, 45]);
  assert.deepEqual([...s.hours], [9, 10, 11, 12, 13, 14, 15, 16, 17]);
  assert.deepEqual([...s.daysOfMonth], [1, 15]);
  assert.deepEqual([...s.months], [1, 2, 3]);
  assert.deepEqual([...s.daysOfWeek].sort(), [1, 2, 3, 4, 5]);
  assert.equal(s.dayOfMonthStar, false);
  assert.deepEqual([...parseCron('5/20 0-10/5 * * *').minutes], [5, 25, 45]);
  assert.deepEqual([...parseCron('5/20 0-10/5 * * *').hours], [0, 5, 10]);
  assert.deepEqual([...parseCron('0 0 * * 7').daysOfWeek], [0], '7 is Sunday');
  assert.deepEqual([...parseCron('0 0 * * 5-7').daysOfWeek].sort(), [0, 5, 6]);
  assert.deepEqual([...parseCron('0 0 * * SUN,sat').daysOfWeek].sort(), [0, 6]);
  assert.ok(Object.isFrozen(parseCron('* * * * *')));
});

test('parseCron: shorthands', () => {
  for (const [short, expr] of [
    ['@daily', '0 0 * * *'], ['daily', '0 0 * * *'], ['@midnight', '0 0 * * *'], ['@weekly', '0 0 * * 0'], ['WEEKLY', '0 0 * * 0'],
    ['@hourly', '0 * * * *'], ['@monthly', '0 0 1 * *'], ['@yearly', '0 0 1 1 *'], ['@annually', '0 0 1 1 *'], [' @daily ', '0 0 * * *'],
  ]) {
    assert.equal(parseCron(short as string).expression, expr, short);
  }
});

test('parseCron: refusals name the field', () => {
  // The field is named by us; what is wrong with it is croner's word.
  refused('61 * * * *', /minute field "61": .*61/);
  refused('* 24 * * *', /hour field "24": .*24/);
  refused('* * 0 * *', /day of month field "0"/);
  refused('* * * 13 *', /month field "13"/);
  refused('* * * * 8', /day of week field "8"/);
  refused('* * * FOO *', /month field "FOO": .*illegal characters/);
  refused('* * * * MON-', /day of week field "MON-": .*range/);
  refused('5-1 * * * *', /minute field "5-1": .*larger than/);
  refused('*/0 * * * *', /minute field "\*\/0": .*stepping/);
  refused('1,,2 * * * *', /minute field "1,,2": .*empty/);
  refused('*/ * * * *', /minute field "\*\/": .*stepping/);
  refused('1-2-3 * * * *', /minute field "1-2-3": .*range/);
  refused('-1 * * * *', /minute field "-1": .*range/);
  refused('* * * *', /must have 5 fields .* got 4/);
  refused('* * * * * *', /got 6/);
  refused('@reboot', /unknown shorthand/);
  refused('', /1 to 200 characters/);
  refused(42, /must be a string/);
  refused('0 0 30 2 *', /never fires/);
  refused('0 0 31 4,6,9,11 *', /never fires/);
  // With a weekday too, the day matches either: this one fires on Mondays.
  assert.ok(parseCron('0 0 30 2 MON'));
  assert.ok(parseCron('0 0 29 2 *'));
});

test('nextFireTime in UTC: strictly after, every field', () => {
  assert.equal(nextFireTime('0 9 * * *', at('2024-05-01T08:59:59Z')).toISOString(), '2024-05-01T09:00:00.000Z');
  assert.equal(nextFireTime('0 9 * * *', at('2024-05-01T09:00:00Z')).toISOString(), '2024-05-02T09:00:00.000Z');
  assert.equal(nextFireTime('* * * * *', at('2024-05-01T09:00:30Z')).toISOString(), '2024-05-01T09:01:00.000Z');
  assert.deepEqual(iso(nextFireTimes('0 9 * * MON-FRI', at('2024-05-03T10:00:00Z'), 3)), ['2024-05-06T09:00:00.000Z', '2024-05-07T09:00:00.000Z', '2024-05-08T09:00:00.000Z']);
  assert.deepEqual(iso(nextFireTimes('@monthly', at('2024-01-31T00:00:00Z'), 2)), ['2024-02-01T00:00:00.000Z', '2024-03-01T00:00:00.000Z']);
  assert.deepEqual(iso(nextFireTimes('0 0 31 * *', at('2024-01-31T00:00:00Z'), 2)), ['2024-03-31T00:00:00.000Z', '2024-05-31T00:00:00.000Z']);
  assert.deepEqual(iso(nextFireTimes('0 0 29 2 *', at('2024-03-01T00:00:00Z'), 2)), ['2028-02-29T00:00:00.000Z', '2032-02-29T00:00:00.000Z']);
  assert.equal(nextFireTime('0 0 1 1 *', new Date('2099-06-01T00:00:00Z')).toISOString(), '2100-01-01T00:00:00.000Z');
  // Day of month and day of week both restricted: either matches (Vixie cron).
  assert.deepEqual(iso(nextFireTimes('0 9 1 * MON', at('2024-04-01T10:00:00Z'), 3)), ['2024-04-08T09:00:00.000Z', '2024-04-15T09:00:00.000Z', '2024-04-22T09:00:00.000Z']);
  assert.deepEqual(iso(nextFireTimes('0 9 1 * MON', at('2024-04-22T10:00:00Z'), 2)), ['2024-04-29T09:00:00.000Z', '2024-05-01T09:00:00.000Z']);
  // A field starting with * keeps AND semantics: every other day that is also a Monday.
  assert.deepEqual(iso(nextFireTimes('0 9 */2 * MON', at('2024-04-01T10:00:00Z'), 2)), ['2024-04-15T09:00:00.000Z', '2024-04-29T09:00:00.000Z']);
  assert.equal(nextFireTime('@weekly', at('2024-05-01T00:00:00Z')).toISOString(), '2024-05-05T00:00:00.000Z');
  assert.equal(nextFireTime(parseCron('daily'), new Date('2024-05-01T00:00:00Z')).toISOString(), '2024-05-02T00:00:00.000Z');
});

test('nextFireTime in a timezone without DST change', () => {
  assert.equal(nextFireTime('0 9 * * *', at('2024-06-01T00:00:00Z'), 'Europe/Paris').toISOString(), '2024-06-01T07:00:00.000Z');
  assert.equal(nextFireTime('0 9 * * *', at('2024-06-01T00:00:00Z'), 'America/New_York').toISOString(), '2024-06-01T13:00:00.000Z');
  assert.equal(nextFireTime('0 9 * * *', at('2024-06-01T00:00:00Z'), 'Asia/Kolkata').toISOString(), '2024-06-01T03:30:00.000Z');
  assert.equal(nextFireTime('0 0 * * *', at('2024-06-01T00:00:00Z'), 'Asia/Tokyo').toISOString(), '2024-06-01T15:00:00.000Z');
  assert.equal(nextFireTime('@weekly', at('2024-06-01T00:00:00Z'), 'Europe/Paris').toISOString(), '2024-06-01T22:00:00.000Z', 'Sunday midnight in Paris');
});

test('Europe/Paris spring forward: 02:30 does not exist on 2024-03-31 and fires when the clock jumps, at 03:00 CEST', () => {
  // As Vixie cron runs the jobs of a skipped hour right after the change.
  assert.deepEqual(iso(nextFireTimes('30 2 * * *', at('2024-03-29T12:00:00Z'), 4, 'Europe/Paris')), [
    '2024-03-30T01:30:00.000Z', // 02:30 CET
    '2024-03-31T01:00:00.000Z', // 03:00 CEST (02:30 skipped by the clock)
    '2024-04-01T00:30:00.000Z', // 02:30 CEST
    '2024-04-02T00:30:00.000Z',
  ]);
  // A daily job at 09:00 keeps 09:00 local across the change.
  assert.deepEqual(iso(nextFireTimes('0 9 * * *', at('2024-03-30T12:00:00Z'), 2, 'Europe/Paris')), ['2024-03-31T07:00:00.000Z', '2024-04-01T07:00:00.000Z']);
  // Hourly: 01:00 CET, then 03:00 CEST (one firing for the skipped 02:00 and the real 03:00), 04:00.
  assert.deepEqual(iso(nextFireTimes('@hourly', at('2024-03-30T23:30:00Z'), 4, 'Europe/Paris')), [
    '2024-03-31T00:00:00.000Z', '2024-03-31T01:00:00.000Z', '2024-03-31T02:00:00.000Z', '2024-03-31T03:00:00.000Z',
  ]);
});

test('Europe/Paris fall back: 02:30 happens twice on 2024-10-27 and fires once, the first time', () => {
  assert.deepEqual(iso(nextFireTimes('30 2 * * *', at('2024-10-25T12:00:00Z'), 3, 'Europe/Paris')), [
    '2024-10-26T00:30:00.000Z', // 02:30 CEST
    '2024-10-27T00:30:00.000Z', // 02:30 CEST, not again at 02:30 CET (01:30Z)
    '2024-10-28T01:30:00.000Z', // 02:30 CET
  ]);
  // Asked from inside the repeated hour (02:10 CET, second pass), it waits for the next day.
  assert.equal(nextFireTime('30 2 * * *', at('2024-10-27T01:10:00Z'), 'Europe/Paris').toISOString(), '2024-10-28T01:30:00.000Z');
});

test('America/New_York spring forward (2024-03-10): the 02:00 hour is skipped', () => {
  assert.deepEqual(iso(nextFireTimes('*/30 * * * *', at('2024-03-10T06:00:00Z'), 4, 'America/New_York')), [
    '2024-03-10T06:30:00.000Z', // 01:30 EST
    '2024-03-10T07:00:00.000Z', // 03:00 EDT (for 02:00 and 03:00)
    '2024-03-10T07:30:00.000Z', // 03:30 EDT (for 02:30 and 03:30)
    '2024-03-10T08:00:00.000Z',
  ]);
  assert.equal(nextFireTime('15 2 * * *', at('2024-03-09T05:00:00Z'), 'America/New_York').toISOString(), '2024-03-09T07:15:00.000Z');
  assert.equal(nextFireTime('15 2 * * *', at('2024-03-09T08:00:00Z'), 'America/New_York').toISOString(), '2024-03-10T07:00:00.000Z', '03:00 EDT, when the clock jumps');
  assert.equal(nextFireTime('15 2 * * *', at('2024-03-10T07:00:00Z'), 'America/New_York').toISOString(), '2024-03-11T06:15:00.000Z');
});

test('America/New_York fall back (2024-11-03): interval jobs keep real time, fixed ones fire once', () => {
  assert.deepEqual(iso(nextFireTimes('*/30 * * * *', at('2024-11-03T04:00:00Z'), 6, 'America/New_York')), [
    '2024-11-03T04:30:00.000Z', // 00:30 EDT
    '2024-11-03T05:00:00.000Z', // 01:00 EDT
    '2024-11-03T05:30:00.000Z', // 01:30 EDT
    '2024-11-03T06:00:00.000Z', // 01:00 EST
    '2024-11-03T06:30:00.000Z', // 01:30 EST
    '2024-11-03T07:00:00.000Z', // 02:00 EST
  ]);
  assert.deepEqual(iso(nextFireTimes('30 1 * * *', at('2024-11-02T04:00:00Z'), 3, 'America/New_York')), [
    '2024-11-02T05:30:00.000Z', '2024-11-03T05:30:00.000Z', '2024-11-04T06:30:00.000Z',
  ]);
  assert.equal(nextFireTime('30 1 * * *', at('2024-11-03T06:15:00Z'), 'America/New_York').toISOString(), '2024-11-04T06:30:00.000Z');
  assert.equal(nextFireTime('0 2 * * *', at('2024-11-03T05:45:00Z'), 'America/New_York').toISOString(), '2024-11-03T07:00:00.000Z');
  assert.equal(nextFireTime('@daily', at('2024-11-02T12:00:00Z'), 'America/New_York').toISOString(), '2024-11-03T04:00:00.000Z');
  assert.equal(nextFireTime('@daily', at('2024-11-03T04:00:00Z'), 'America/New_York').toISOString(), '2024-11-04T05:00:00.000Z');
});

test('a year of daily and every-15-minutes firings in Paris and New York: increasing, one per local day', () => {
  for (const zone of ['Europe/Paris', 'America/New_York']) {
    const days = nextFireTimes('0 3 * * *', at('2024-01-01T00:00:00Z'), 366, zone);
    for (let i = 1; i < days.length; i++) {
      const gap = (days[i] as Date).getTime() - (days[i - 1] as Date).getTime();
      assert.ok([23, 24, 25].includes(gap / 3_600_000), `${zone}: ${(days[i] as Date).toISOString()}`);
    }
    const quarter = nextFireTimes('*/15 * * * *', at('2024-03-09T00:00:00Z'), 4 * 24 * 3, zone);
    for (let i = 1; i < quarter.length; i++) {
      assert.equal((quarter[i] as Date).getTime() - (quarter[i - 1] as Date).getTime(), 900_000, `${zone}: ${(quarter[i] as Date).toISOString()}`);
    }
  }
});

test('timezones: canonical names, offsets, refusals', () => {
  assert.equal(canonicalTimeZone('Europe/Paris'), 'Europe/Paris');
  assert.equal(canonicalTimeZone('europe/paris'), 'Europe/Paris');
  assert.equal(canonicalTimeZone('UTC'), 'UTC');
  assert.equal(canonicalTimeZone('Mars/Olympus'), undefined);
  assert.equal(canonicalTimeZone('../etc/passwd'), undefined);
  assert.equal(canonicalTimeZone(''), undefined);
  assert.throws(() => nextFireTime('@daily', 0, 'Nowhere/City'), (err: unknown) => err instanceof HubError && err.code === 'CRON_INVALID');
  assert.throws(() => nextFireTime('@daily', Number.NaN), TypeError);
});
