import {
  ApiError, basicCredentials, decodeCursor, encodeCursor, newId, sendWebhook, startHttpEmulator,
  type CommonOptions, type Emulator, type ErrorKind, type Reply, type RouteContext, type SendOptions, type WebhookDelivery,
} from './base.ts';
import { isPlainObject } from '../../libs/json/index.ts';

/**
 * A call recorder (use case 3), mimicking the Gong API v2: HTTP Basic auth with an access
 * key and its secret, `{ requestId, errors: [..] }` error bodies, `records.cursor` paging.
 *
 * Routes:
 * - GET  /v2/calls?fromDateTime&toDateTime&cursor      list calls (metadata), 100 a page (options.pageSize)
 * - GET  /v2/calls/:id                                 one call's metadata: { requestId, call }
 * - POST /v2/calls/transcript  { filter: { callIds? | fromDateTime?, toDateTime? }, cursor? }
 *                                                      → { requestId, records, callTranscripts: [{ callId, transcript: [{ speakerId, topic, sentences: [{ start, end, text }] }] }] }
 * - POST /v2/calls/extensive   { filter: {...}, contentSelector?: { context?, exposedFields?: { parties?, content?: { brief?, keyPoints?, pointsOfInterest?, outline?, callOutcome? } } }, cursor? }
 *                                                      → { requestId, records, calls: [{ metaData, context?, parties?, content? }] }
 *
 * Gong tells the CRM about a new call through an automation-rule webhook; `notify()` sends
 * one (body `{ isTest, callData: { metaData, context, parties, content } }`). Gong signs
 * with a JWT; here the sender signs with Standard Webhooks when given a secret, which is
 * what the hub's webhook ingress verifies.
 */

export interface CallParty {
  id: string;
  emailAddress: string;
  name: string;
  title?: string;
  speakerId: string;
  affiliation: 'Internal' | 'External' | 'Unknown';
  userId?: string;
}

export interface TranscriptPart { speakerId: string; topic: string | null; sentences: { start: number; end: number; text: string }[] }

export interface RecordedCall {
  id: string;
  title: string;
  /** ISO 8601 */
  started: string;
  /** Seconds. */
  duration: number;
  primaryUserId: string;
  system: string;
  direction: 'Conference' | 'Inbound' | 'Outbound';
  parties: CallParty[];
  brief: string;
  keyPoints: string[];
  actionItems: { speakerId: string; snippet: string; snippetStartTime: number; snippetEndTime: number }[];
  transcript: TranscriptPart[];
  /** CRM objects Gong associated with the call, e.g. [{ objectType: 'Opportunity', objectId: 'opp_1' }]. */
  crmObjects: { objectType: string; objectId: string; fields?: { name: string; value: string }[] }[];
  outcome?: string;
}

export interface CallRecorderOptions extends CommonOptions {
  accessKey?: string;
  accessKeySecret?: string;
  /** Initial calls (default: sampleCalls()). */
  calls?: RecordedCall[];
  pageSize?: number;
}

export interface CallRecorderEmulator extends Emulator {
  accessKey: string;
  accessKeySecret: string;
  /** `Basic <base64(accessKey:accessKeySecret)>` */
  authorization: string;
  calls: Map<string, RecordedCall>;
  /** Adds a call (fields not given get sample values) and returns it. */
  addCall(call?: Partial<RecordedCall>): RecordedCall;
  /** The webhook body Gong would post for this call. */
  webhookPayload(callId: string, isTest?: boolean): Record<string, unknown>;
  /** Posts the call's webhook (JSON) to `url`, signed with Standard Webhooks when `secret` is given. */
  notify(url: string, callId: string, options?: Omit<SendOptions, 'method' | 'contentType'>): Promise<WebhookDelivery>;
}

let callCounter = 7_782_342_274_025_937_000n;

/** A realistic discovery call with two internal and two external participants. */
export function sampleCall(overrides: Partial<RecordedCall> = {}): RecordedCall {
  callCounter += 1n;
  const id = overrides.id ?? String(callCounter);
  const parties: CallParty[] = overrides.parties ?? [
    { id: '1001', emailAddress: 'rep@ourco.example', name: 'Riley Rep', title: 'Account Executive', speakerId: '6432345678555530067', affiliation: 'Internal', userId: '234599484848423' },
    { id: '1002', emailAddress: 'se@ourco.example', name: 'Sam Engineer', title: 'Solutions Engineer', speakerId: '6432345678555530068', affiliation: 'Internal', userId: '234599484848424' },
    { id: '1003', emailAddress: 'ada@acme.example', name: 'Ada Lovelace', title: 'VP Engineering', speakerId: '6432345678555530069', affiliation: 'External' },
    { id: '1004', emailAddress: 'grace@acme.example', name: 'Grace Hopper', title: 'Procurement Lead', speakerId: '6432345678555530070', affiliation: 'External' },
  ];
  const rep = parties[0]?.speakerId ?? '1';
  const buyer = parties.find((p) => p.affiliation === 'External')?.speakerId ?? rep;
  return {
    id,
    title: 'Acme <> OurCo: technical deep dive',
    started: '2025-01-15T16:00:00-08:00',
    duration: 2712,
    primaryUserId: '234599484848423',
    system: 'Zoom',
    direction: 'Conference',
    parties,
    brief: 'Acme wants to replace its in-house sync scripts before Q2. They need SSO and a sandbox; budget is approved for 50 seats.',
    keyPoints: ['Budget approved for 50 seats', 'SSO is a hard requirement', 'Decision by end of February'],
    actionItems: [
      { speakerId: rep, snippet: 'I will send the security questionnaire and SOC 2 report by Friday.', snippetStartTime: 1820, snippetEndTime: 1834 },
      { speakerId: buyer, snippet: 'We need a sandbox workspace to test the HubSpot sync next week.', snippetStartTime: 2101, snippetEndTime: 2113 },
    ],
    transcript: [
      { speakerId: rep, topic: 'Call Setup', sentences: [{ start: 460, end: 2300, text: 'Thanks for joining, everyone.' }, { start: 2300, end: 5100, text: 'Today we will walk through the sync architecture.' }] },
      { speakerId: buyer, topic: 'Pricing', sentences: [{ start: 1_600_000, end: 1_612_000, text: 'Budget is approved for fifty seats.' }] },
      { speakerId: rep, topic: 'Next Steps', sentences: [{ start: 1_820_000, end: 1_834_000, text: 'I will send the security questionnaire and SOC 2 report by Friday.' }] },
    ],
    crmObjects: [{ objectType: 'Opportunity', objectId: 'opp_acme_1', fields: [{ name: 'Name', value: 'Acme - Platform' }] }],
    outcome: 'Qualified',
    ...overrides,
  };
}

export function sampleCalls(): RecordedCall[] {
  return [
    sampleCall({ id: '7782342274025937895' }),
    sampleCall({
      id: '7782342274025937896', title: 'Globex intro call', started: '2025-01-16T09:30:00Z', duration: 1505, brief: 'Intro call; Globex evaluates in Q3.',
      keyPoints: ['Evaluating in Q3'], actionItems: [], outcome: 'Follow up later',
      parties: [
        { id: '2001', emailAddress: 'rep@ourco.example', name: 'Riley Rep', speakerId: '700', affiliation: 'Internal', userId: '234599484848423' },
        { id: '2002', emailAddress: 'hank@globex.example', name: 'Hank Scorpio', title: 'CEO', speakerId: '701', affiliation: 'External' },
      ],
      crmObjects: [],
    }),
  ];
}

function requestId(): string {
  return newId('', 19).toLowerCase();
}

function gongError(status: number, ...errors: string[]): Reply {
  return { status, body: { requestId: requestId(), errors } };
}

function errorReply(status: number, kind: ErrorKind, message: string): Reply {
  switch (kind) {
    case 'rate_limited': return gongError(status, 'Too many requests, API rate limit was exceeded');
    case 'server_error': return gongError(status, 'Internal server error');
    case 'not_found': return gongError(404, 'Not Found');
    case 'invalid_body': return gongError(400, `Malformed request body: ${message}`);
    default: return gongError(status, message);
  }
}

function metaData(call: RecordedCall, baseUrl: string) {
  return {
    id: call.id,
    url: `${baseUrl.replace('http://', 'https://app.')}/call?id=${call.id}`,
    title: call.title,
    scheduled: call.started,
    started: call.started,
    duration: call.duration,
    primaryUserId: call.primaryUserId,
    direction: call.direction,
    system: call.system,
    scope: call.parties.some((p) => p.affiliation === 'External') ? 'External' : 'Internal',
    media: 'Video',
    language: 'eng',
    workspaceId: '623457276584334',
    sdrDisposition: null,
    clientUniqueId: null,
    customData: null,
    purpose: null,
    meetingUrl: `https://zoom.us/j/${call.id.slice(-10)}`,
    isPrivate: false,
    calendarEventId: null,
  };
}

function context(call: RecordedCall) {
  return call.crmObjects.length === 0 ? [] : [{ system: 'Salesforce', objects: call.crmObjects.map((o) => ({ objectType: o.objectType, objectId: o.objectId, fields: o.fields ?? [] })) }];
}

export async function startCallRecorderEmulator(options: CallRecorderOptions = {}): Promise<CallRecorderEmulator> {
  const accessKey = options.accessKey ?? 'GONGTESTACCESSKEY';
  const accessKeySecret = options.accessKeySecret ?? 'gong-test-access-key-secret';
  const pageSize = options.pageSize ?? 100;
  const calls = new Map<string, RecordedCall>();
  const seed = () => {
    calls.clear();
    for (const c of options.calls ?? sampleCalls()) calls.set(c.id, structuredClone(c));
  };
  seed();
  let baseUrl = '';

  const dateParam = (value: unknown, name: string): number | undefined => {
    if (value === undefined || value === null) return undefined;
    const t = typeof value === 'string' ? Date.parse(value) : NaN;
    if (Number.isNaN(t)) throw new ApiError(gongError(400, `${name}: must be a valid ISO-8601 date-time, e.g. 2018-02-18T02:30:00-07:00`));
    return t;
  };

  /** Calls chosen by a Gong filter, paged by cursor. */
  const select = (filter: Record<string, unknown>, cursor: unknown, salt: string) => {
    let chosen = [...calls.values()];
    if (filter.callIds !== undefined) {
      if (!Array.isArray(filter.callIds) || filter.callIds.some((x) => typeof x !== 'string')) throw new ApiError(gongError(400, 'filter.callIds: must be an array of strings'));
      const ids = filter.callIds as string[];
      chosen = chosen.filter((c) => ids.includes(c.id));
    }
    const from = dateParam(filter.fromDateTime, 'filter.fromDateTime');
    const to = dateParam(filter.toDateTime, 'filter.toDateTime');
    if (from !== undefined) chosen = chosen.filter((c) => Date.parse(c.started) >= from);
    if (to !== undefined) chosen = chosen.filter((c) => Date.parse(c.started) < to);
    chosen.sort((a, b) => Date.parse(a.started) - Date.parse(b.started) || a.id.localeCompare(b.id));
    if (chosen.length === 0) throw new ApiError(gongError(404, 'No calls found corresponding to the provided filters'));
    let offset = 0;
    if (cursor !== undefined && cursor !== null) {
      const o = typeof cursor === 'string' ? decodeCursor(cursor, salt) : undefined;
      if (o === undefined) throw new ApiError(gongError(400, 'cursor: invalid or expired cursor'));
      offset = o;
    }
    const page = chosen.slice(offset, offset + pageSize);
    const more = offset + page.length < chosen.length;
    return {
      page,
      records: {
        totalRecords: chosen.length, currentPageSize: page.length, currentPageNumber: Math.floor(offset / pageSize),
        ...(more ? { cursor: encodeCursor(offset + page.length, salt) } : {}),
      },
    };
  };

  const bodyFilter = (ctx: RouteContext): { filter: Record<string, unknown>; body: Record<string, unknown> } => {
    const body = ctx.req.body;
    if (!isPlainObject(body)) throw new ApiError(gongError(400, 'Request body is missing or not a JSON object'));
    if (!isPlainObject(body.filter)) throw new ApiError(gongError(400, 'filter: must not be null'));
    return { filter: body.filter, body };
  };

  const routes = [
    {
      method: 'GET', path: '/v2/calls',
      handle(ctx: RouteContext): Reply {
        const filter: Record<string, unknown> = {};
        for (const k of ['fromDateTime', 'toDateTime']) if (ctx.search.get(k) !== null) filter[k] = ctx.search.get(k);
        const { page, records } = select(filter, ctx.search.get('cursor') ?? undefined, `list:${ctx.search.get('fromDateTime') ?? ''}:${ctx.search.get('toDateTime') ?? ''}`);
        return { status: 200, body: { requestId: requestId(), records, calls: page.map((c) => metaData(c, ctx.baseUrl)) } };
      },
    },
    {
      method: 'GET', path: '/v2/calls/:id',
      handle(ctx: RouteContext): Reply {
        const call = calls.get(ctx.params.id!);
        if (!call) throw new ApiError(gongError(404, `Call ${ctx.params.id} not found`));
        return { status: 200, body: { requestId: requestId(), call: metaData(call, ctx.baseUrl) } };
      },
    },
    {
      method: 'POST', path: '/v2/calls/transcript',
      handle(ctx: RouteContext): Reply {
        const { filter, body } = bodyFilter(ctx);
        const { page, records } = select(filter, body.cursor, `transcript:${JSON.stringify(filter)}`);
        return { status: 200, body: { requestId: requestId(), records, callTranscripts: page.map((c) => ({ callId: c.id, transcript: c.transcript })) } };
      },
    },
    {
      method: 'POST', path: '/v2/calls/extensive',
      handle(ctx: RouteContext): Reply {
        const { filter, body } = bodyFilter(ctx);
        const selector = isPlainObject(body.contentSelector) ? body.contentSelector : {};
        const exposed = isPlainObject(selector.exposedFields) ? selector.exposedFields : {};
        const content = isPlainObject(exposed.content) ? exposed.content : {};
        const { page, records } = select(filter, body.cursor, `extensive:${JSON.stringify(filter)}`);
        return {
          status: 200,
          body: {
            requestId: requestId(), records,
            calls: page.map((c) => ({
              metaData: metaData(c, ctx.baseUrl),
              ...(selector.context === 'Extended' || selector.context === 'Basic' ? { context: context(c) } : {}),
              ...(exposed.parties === true ? { parties: c.parties.map((p) => ({ ...p, methods: ['Invitee', 'Attendee'] })) } : {}),
              ...(Object.keys(content).length > 0 ? { content: contentOf(c, content) } : {}),
            })),
          },
        };
      },
    },
  ];

  function contentOf(c: RecordedCall, wanted: Record<string, unknown>) {
    return {
      ...(wanted.brief === true ? { brief: c.brief } : {}),
      ...(wanted.keyPoints === true ? { keyPoints: c.keyPoints.map((text) => ({ text })) } : {}),
      ...(wanted.callOutcome === true ? { callOutcome: c.outcome ? { id: '1', category: 'Answered', name: c.outcome } : null } : {}),
      ...(wanted.outline === true ? { outline: c.transcript.map((t) => ({ section: t.topic ?? 'General', startTime: (t.sentences[0]?.start ?? 0) / 1000, duration: 60, items: [] })) } : {}),
      ...(wanted.pointsOfInterest === true ? { pointsOfInterest: { actionItems: c.actionItems.map((a) => ({ ...a, speakerID: a.speakerId })) } } : {}),
    };
  }

  function webhookPayload(callId: string, isTest = false): Record<string, unknown> {
    const c = calls.get(callId);
    if (!c) throw new Error(`no call ${callId}`);
    return {
      isTest,
      callData: {
        metaData: metaData(c, baseUrl),
        context: context(c),
        parties: c.parties,
        content: {
          brief: c.brief,
          keyPoints: c.keyPoints.map((text) => ({ text })),
          pointsOfInterest: { actionItems: c.actionItems.map((a) => ({ ...a, speakerID: a.speakerId })) },
        },
      },
    };
  }

  const authorization = `Basic ${Buffer.from(`${accessKey}:${accessKeySecret}`).toString('base64')}`;
  const emulator = await startHttpEmulator({
    name: 'call-recorder',
    routes,
    authenticate(req) {
      const creds = basicCredentials(req.headers);
      if (!creds) return gongError(401, 'Missing or malformed Authorization header: use Basic authentication with access key and access key secret');
      if (creds.user !== accessKey || creds.pass !== accessKeySecret) return gongError(401, 'Unauthorized: invalid access key or access key secret');
      return null;
    },
    errorReply,
    resetState: seed,
  }, options, {
    accessKey, accessKeySecret, authorization, calls,
    addCall(partial: Partial<RecordedCall> = {}): RecordedCall {
      const call = sampleCall(partial);
      calls.set(call.id, call);
      return call;
    },
    webhookPayload,
    notify(url: string, callId: string, sendOptions: Omit<SendOptions, 'method' | 'contentType'> = {}): Promise<WebhookDelivery> {
      return sendWebhook(url, JSON.stringify(webhookPayload(callId)), { ...sendOptions, method: 'POST', contentType: 'application/json', headers: { 'user-agent': 'Gong-Webhooks/1.0', ...sendOptions.headers } });
    },
  });
  baseUrl = emulator.url;
  return emulator;
}
