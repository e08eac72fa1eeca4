/**
 * Operator alerts: rules over the sampler's snapshot and the DLQ index, evaluated every
 * `alertEveryMs`. A rule fires per group when its condition has held for `forMinutes`,
 * and says so once; when the condition ends it sends a resolved message once. Messages
 * go through the notifier (hub.notifications) as the operator's notifications: email
 * with the hub's SMTP server, chat to Slack-compatible webhooks, which are stored as
 * sealed credentials of the operator pseudo-workspace (the notifier resolves them).
 *
 * `evaluate` is pure (rules, state, observations, now) so the timing is tested with a
 * clock; `createAlerts` stores rules and state and publishes.
 */
import { createHash } from 'node:crypto';
import type { Collection, Db } from 'mongodb';
import type { Logger } from '../../libs/log/index.ts';
import type { EventBus, OutgoingEvent } from '../../libs/kafka/producer.ts';
import type { CredentialStore } from '../../libs/store/credentials.ts';
import type { CollectionSpec } from '../../libs/store/mongo.ts';
import { ALERTS_WORKFLOW, OPERATOR_WORKSPACE } from '../../libs/contracts/notification.ts';
import { Secret } from '../../libs/secrets/crypto.ts';
import { errorMessage } from '../../libs/errors/index.ts';
import { storeError } from '../../libs/store/errors.ts';
import type { Snapshot } from './sampler.ts';

export const alertKinds = ['lag_seconds_above', 'dlq_grew', 'group_stalled', 'group_no_members'] as const;
export type AlertKind = (typeof alertKinds)[number];

export interface AlertRule {
  id: string;
  when: AlertKind;
  /** One group, or every hub group when absent. */
  group?: string;
  /** lag_seconds_above: the threshold. */
  seconds?: number;
  /** How long the condition must hold before the alert fires (0: at the first evaluation that sees it). */
  forMinutes?: number;
}

export interface AlertChannels { email: string[]; chat: string[] }

export interface AlertConfig { rules: AlertRule[]; channels: AlertChannels }

/** Per rule and group: since when the condition holds, and whether it fired. */
export interface AlertInstance { ruleId: string; group: string; held: boolean; since: number; firing: boolean; firedAt: number | null; value: number; baseline?: number }

export interface Observation { group: string; lagSeconds: number; status: string; members: number; parked: number }

export interface AlertEvent { ruleId: string; group: string; state: 'firing' | 'resolved'; value: number; at: number; since: number; text: string }

export const alertsSchema = {
  type: 'object', additionalProperties: false, required: ['rules'],
  properties: {
    rules: {
      type: 'array', maxItems: 100,
      items: {
        type: 'object', additionalProperties: false, required: ['id', 'when'],
        properties: {
          id: { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,64}$' },
          when: { type: 'string', enum: alertKinds },
          group: { type: 'string', minLength: 1, maxLength: 200 },
          seconds: { type: 'number', minimum: 0 },
          forMinutes: { type: 'number', minimum: 0, maximum: 1440 },
        },
      },
    },
    channels: {
      type: 'object', additionalProperties: false,
      properties: {
        email: { type: 'array', maxItems: 20, items: { type: 'string', format: 'email' } },
        chat: { type: 'array', maxItems: 10, items: { type: 'string', format: 'uri', pattern: '^https?://' } },
      },
    },
  },
} as const;

function describe(rule: AlertRule, o: Observation): string {
  switch (rule.when) {
    case 'lag_seconds_above': return `${o.group} is ${o.lagSeconds}s behind (above ${rule.seconds ?? 0}s)`;
    case 'dlq_grew': return `${o.group} has ${o.parked} parked message(s) on its DLQ`;
    case 'group_stalled': return `${o.group} is stalled: messages wait and its committed offsets do not move`;
    case 'group_no_members': return `${o.group} has no members: nothing consumes its topics`;
  }
}

function holds(rule: AlertRule, o: Observation, baseline: number): { holds: boolean; value: number } {
  switch (rule.when) {
    case 'lag_seconds_above': return { holds: o.lagSeconds > (rule.seconds ?? 0), value: o.lagSeconds };
    case 'dlq_grew': return { holds: o.parked > baseline, value: o.parked };
    case 'group_stalled': return { holds: o.status === 'stalled', value: o.lagSeconds };
    case 'group_no_members': return { holds: o.members === 0, value: o.members };
  }
}

/** One evaluation: the next instances and the messages to send. */
export function evaluate(rules: readonly AlertRule[], instances: ReadonlyMap<string, AlertInstance>, observations: readonly Observation[], now: number): { instances: Map<string, AlertInstance>; events: AlertEvent[] } {
  const next = new Map<string, AlertInstance>();
  const events: AlertEvent[] = [];
  for (const rule of rules) {
    for (const o of observations) {
      if (rule.group !== undefined && rule.group !== o.group) continue;
      const key = `${rule.id}|${o.group}`;
      const prev = instances.get(key);
      // A DLQ rule compares with what was parked when it started watching (or last resolved).
      const baseline = rule.when === 'dlq_grew' ? prev?.baseline ?? o.parked : 0;
      const h = holds(rule, o, baseline);
      if (!h.holds) {
        if (prev?.firing) events.push({ ruleId: rule.id, group: o.group, state: 'resolved', value: h.value, at: now, since: prev.since, text: `resolved: ${rule.id} on ${o.group}` });
        next.set(key, { ruleId: rule.id, group: o.group, held: false, since: now, firing: false, firedAt: null, value: h.value, baseline: rule.when === 'dlq_grew' ? Math.min(baseline, o.parked) : undefined });
        continue;
      }
      const since = prev?.held ? prev.since : now;
      const inst: AlertInstance = { ruleId: rule.id, group: o.group, held: true, since, firing: prev?.firing ?? false, firedAt: prev?.firedAt ?? null, value: h.value, baseline: rule.when === 'dlq_grew' ? baseline : undefined };
      if (!inst.firing && now - since >= (rule.forMinutes ?? 0) * 60_000) {
        inst.firing = true;
        inst.firedAt = now;
        events.push({ ruleId: rule.id, group: o.group, state: 'firing', value: h.value, at: now, since, text: describe(rule, o) });
      }
      next.set(key, inst);
    }
  }
  return { instances: next, events };
}

export const alertsCollection: CollectionSpec = { name: 'ops_alerts', indexes: [] };

const chatCredential = (i: number) => `ops-alerts-chat-${i}`;

export interface AlertsDeps {
  db: Db;
  bus: EventBus;
  notificationsTopic: string;
  credentials: CredentialStore;
  log: Logger;
  now?(): number;
}

interface ConfigDoc { _id: 'config'; rules: AlertRule[]; channels: { email: string[]; chat: { host: string; credential: string }[] }; updatedAt: Date }
interface StateDoc { _id: 'state'; instances: AlertInstance[]; sent: AlertEvent[] }

export function createAlerts(d: AlertsDeps) {
  const now = d.now ?? Date.now;
  const coll = d.db.collection(alertsCollection.name) as unknown as Collection<ConfigDoc | StateDoc>;
  let instances = new Map<string, AlertInstance>();
  let sent: AlertEvent[] = [];
  let loaded = false;

  async function load() {
    if (loaded) return;
    const state = (await coll.findOne({ _id: 'state' })) as StateDoc | null;
    instances = new Map((state?.instances ?? []).map((i) => [`${i.ruleId}|${i.group}`, i]));
    sent = state?.sent ?? [];
    loaded = true;
  }

  async function config(): Promise<ConfigDoc | null> {
    try {
      return (await coll.findOne({ _id: 'config' })) as ConfigDoc | null;
    } catch (err) {
      throw storeError(err, 'reading alert rules');
    }
  }

  async function put(body: { rules: AlertRule[]; channels?: Partial<AlertChannels> }) {
    const chat = body.channels?.chat ?? [];
    // The webhooks are secrets (a Slack URL is its own key): sealed as the operator's credentials.
    for (let i = 0; i < 10; i++) {
      const name = chatCredential(i);
      if (i < chat.length) {
        const material = { type: 'chat' as const, webhookUrl: new Secret(chat[i]!), host: new URL(chat[i]!).host };
        if (!(await d.credentials.replace(OPERATOR_WORKSPACE, name, material))) await d.credentials.create(OPERATOR_WORKSPACE, name, material);
      } else {
        await d.credentials.remove(OPERATOR_WORKSPACE, name);
      }
    }
    const doc: ConfigDoc = {
      _id: 'config', rules: body.rules, updatedAt: new Date(now()),
      channels: { email: body.channels?.email ?? [], chat: chat.map((u, i) => ({ host: new URL(u).host, credential: chatCredential(i) })) },
    };
    try {
      await coll.replaceOne({ _id: 'config' }, doc, { upsert: true });
    } catch (err) {
      throw storeError(err, 'storing alert rules');
    }
    return view(doc);
  }

  function view(doc: ConfigDoc | null) {
    return {
      rules: doc?.rules ?? [],
      channels: { email: doc?.channels.email ?? [], chat: (doc?.channels.chat ?? []).map((c) => ({ host: c.host, credential: c.credential })) },
      updatedAt: doc?.updatedAt.toISOString() ?? null,
      firing: [...instances.values()].filter((i) => i.firing).map((i) => ({ ruleId: i.ruleId, group: i.group, since: new Date(i.since).toISOString(), value: i.value })),
      recent: sent.slice(-20).map((e) => ({ ...e, at: new Date(e.at).toISOString(), since: new Date(e.since).toISOString() })),
    };
  }

  function notifications(e: AlertEvent, channels: ConfigDoc['channels']): OutgoingEvent[] {
    const out: OutgoingEvent[] = [];
    const subject = `[hub ${e.state === 'firing' ? 'ALERT' : 'resolved'}] ${e.ruleId} on ${e.group}`;
    const text = `${e.state === 'firing' ? e.text : `${e.text} (it held since ${new Date(e.since).toISOString()})`}\nAt ${new Date(e.at).toISOString()}.`;
    const base = (channel: 'email' | 'chat', credential: string | null, message: unknown, n: number) => {
      const id = `ntf_${createHash('sha256').update(`${e.ruleId}|${e.group}|${e.since}|${e.state}|${channel}|${n}`).digest('hex').slice(0, 32)}`;
      return {
        key: id,
        value: {
          eventId: id, type: 'notification.requested', workspaceId: OPERATOR_WORKSPACE, occurredAt: e.at,
          correlationId: id, causationId: null, causationDepth: 0,
          notificationId: id, runId: `alert_${e.ruleId}`, workflowId: ALERTS_WORKFLOW, version: 1, stepKey: `${e.ruleId}.${e.group}.${e.state}`,
          channel, credential, message: JSON.stringify(message),
        },
      };
    };
    if (channels.email.length > 0) out.push(base('email', null, { to: channels.email, cc: [], subject, text, html: null }, 0));
    channels.chat.forEach((c, i) => out.push(base('chat', c.credential, { text: `${e.state === 'firing' ? ':rotating_light:' : ':white_check_mark:'} ${subject}\n${text}` }, i)));
    return out;
  }

  /** One evaluation over the latest snapshot and parked counts; publishes the messages it decided. */
  async function tick(snapshot: Snapshot | null, parked: { group: string; count: number }[]) {
    if (!snapshot) return;
    await load();
    const cfg = await config();
    if (!cfg || cfg.rules.length === 0) { instances = new Map(); return; }
    const parkedBy = new Map<string, number>();
    for (const p of parked) parkedBy.set(p.group, (parkedBy.get(p.group) ?? 0) + p.count);
    const observations: Observation[] = snapshot.groups.map((g) => ({ group: g.group, lagSeconds: g.lagSeconds, status: g.status, members: g.members.length, parked: parkedBy.get(g.group) ?? 0 }));
    for (const [group, count] of parkedBy) if (!observations.some((o) => o.group === group)) observations.push({ group, lagSeconds: 0, status: 'idle', members: 0, parked: count });
    const r = evaluate(cfg.rules, instances, observations, now());
    for (const e of r.events) {
      const events = notifications(e, cfg.channels);
      try {
        if (events.length > 0) await d.bus.publish(d.notificationsTopic, events);
        d.log.warn({ ruleId: e.ruleId, group: e.group, state: e.state, value: e.value, channels: events.length }, e.state === 'firing' ? 'alert firing' : 'alert resolved');
      } catch (err) {
        // Not sent: keep the previous state so the next evaluation decides it again.
        d.log.error({ ruleId: e.ruleId, err: errorMessage(err) }, 'cannot publish an alert; trying again at the next evaluation');
        const key = `${e.ruleId}|${e.group}`;
        const prev = instances.get(key);
        if (prev) r.instances.set(key, prev); else r.instances.delete(key);
        continue;
      }
      sent.push(e);
    }
    sent = sent.slice(-100);
    instances = r.instances;
    await coll.replaceOne({ _id: 'state' }, { _id: 'state', instances: [...instances.values()], sent }, { upsert: true }).catch(() => undefined);
  }

  return {
    put, tick,
    async get() { await load().catch(() => undefined); return view(await config()); },
    firing: () => [...instances.values()].filter((i) => i.firing),
  };
}

export type Alerts = ReturnType<typeof createAlerts>;
