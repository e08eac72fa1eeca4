import {
  ApiError, EMAIL_PATTERN, bearerToken, decodeCursor, encodeCursor, startHttpEmulator,
  type CommonOptions, type Emulator, type ErrorKind, type Reply, type RouteContext,
} from './base.ts';
import { isPlainObject } from '../../libs/json/index.ts';

/**
 * An email sequence tool (use case 6), mimicking the Outreach API v2: OAuth Bearer token,
 * JSON:API documents (`application/vnd.api+json`; plain `application/json` is accepted
 * too), `{ errors: [{ id, title, detail, source? }] }` errors, `page[size]`/`page[after]`
 * cursor paging with `links.next`. Enrolling a contact is two calls, as in Outreach:
 * create (or find) the prospect, then create a sequenceState tying prospect, sequence and
 * mailbox together.
 *
 * Routes (under /api/v2):
 * - GET   /sequences[?filter[name]=]            GET /sequences/:id
 * - GET   /mailboxes
 * - GET   /prospects?filter[emails]=&page[size]=&page[after]=
 * - POST  /prospects    { data: { type: 'prospect', attributes: { emails: [..], firstName?, lastName?, title?, company?, tags?, custom1..custom5? } } } → 201
 *                       an email already on a prospect is 422 validationDuplicateValueError (unless allowDuplicateEmails)
 * - GET   /prospects/:id                       PATCH /prospects/:id { data: { type, id, attributes } }
 * - POST  /sequenceStates { data: { type: 'sequenceState', relationships: { prospect: { data: { type: 'prospect', id } }, sequence: {…}, mailbox: {…} } } } → 201
 *                       the prospect already active in that sequence, or a disabled sequence, is 422
 * - GET   /sequenceStates?filter[prospect][id]=&filter[sequence][id]=&page[size]=&page[after]=
 */

export interface Sequence { id: number; name: string; enabled: boolean; sequenceType?: 'interval' | 'date' }
export interface Mailbox { id: number; email: string }
export interface Prospect { id: number; attributes: Record<string, unknown>; createdAt: string; updatedAt: string }
export interface SequenceState { id: number; prospectId: number; sequenceId: number; mailboxId: number; state: 'active' | 'paused' | 'finished' | 'failed'; createdAt: string; updatedAt: string }

export interface SequencesOptions extends CommonOptions {
  /** OAuth access token (default `outreach-test-token`). */
  token?: string;
  sequences?: Sequence[];
  mailboxes?: Mailbox[];
  allowDuplicateEmails?: boolean;
}

export interface SequencesEmulator extends Emulator {
  token: string;
  sequences: Sequence[];
  mailboxes: Mailbox[];
  prospects: Map<number, Prospect>;
  sequenceStates: Map<number, SequenceState>;
}

const PROSPECT_ATTRIBUTES = new Set([
  'emails', 'firstName', 'lastName', 'middleName', 'nickname', 'title', 'company', 'companyDomain', 'occupation', 'tags', 'timeZone', 'workPhones', 'mobilePhones',
  'linkedInUrl', 'websiteUrl1', 'addressCity', 'addressCountry', 'addressState', 'source', 'stage', 'custom1', 'custom2', 'custom3', 'custom4', 'custom5',
]);

export const DEFAULT_SEQUENCES: Sequence[] = [
  { id: 1, name: 'Inbound Lead Nurture', enabled: true },
  { id: 2, name: 'Enterprise Outbound', enabled: true },
  { id: 3, name: 'Trial Onboarding', enabled: true },
  { id: 4, name: 'Legacy Webinar Follow-up', enabled: false },
];

interface JsonApiError { id: string; title: string; detail: string; source?: { pointer: string } }

function errors(status: number, ...list: JsonApiError[]): Reply {
  return { status, headers: { 'content-type': 'application/vnd.api+json; charset=utf-8' }, body: { errors: list } };
}

function validation(pointer: string, detail: string, id = 'validationError', title = 'Validation Error'): never {
  throw new ApiError(errors(422, { id, source: { pointer }, title, detail }));
}

function errorReply(status: number, kind: ErrorKind, message: string): Reply {
  switch (kind) {
    case 'rate_limited': return errors(status, { id: 'rateLimitExceeded', title: 'Rate Limit Exceeded', detail: 'You have exceeded your permitted rate limit of 10,000; please try again at a later time.' });
    case 'server_error': return errors(status, { id: 'internalServerError', title: 'Internal Server Error', detail: 'An unexpected error occurred; please try again.' });
    case 'not_found': return errors(404, { id: 'resourceNotFound', title: 'Resource Not Found', detail: message });
    case 'method_not_allowed': return errors(405, { id: 'methodNotAllowed', title: 'Method Not Allowed', detail: message });
    case 'invalid_body': return errors(400, { id: 'badRequest', title: 'Bad Request', detail: `The request body could not be parsed: ${message}` });
    default: return errors(status, { id: status >= 500 ? 'internalServerError' : 'badRequest', title: status >= 500 ? 'Internal Server Error' : 'Bad Request', detail: message });
  }
}

export async function startSequencesEmulator(options: SequencesOptions = {}): Promise<SequencesEmulator> {
  const token = options.token ?? 'outreach-test-token';
  const sequences = options.sequences ?? DEFAULT_SEQUENCES.map((s) => ({ ...s }));
  const mailboxes = options.mailboxes ?? [{ id: 1, email: 'rep@ourco.example' }];
  const prospects = new Map<number, Prospect>();
  const states = new Map<number, SequenceState>();
  let nextProspect = 1;
  let nextState = 1;
  let baseUrl = '';

  const link = (type: string, id: number) => `${baseUrl}/api/v2/${type}/${id}`;
  const sequenceDoc = (s: Sequence) => ({
    type: 'sequence', id: s.id,
    attributes: { name: s.name, enabled: s.enabled, sequenceType: s.sequenceType ?? 'interval', shareType: 'shared', activeProspectsCount: [...states.values()].filter((x) => x.sequenceId === s.id && x.state === 'active').length },
    links: { self: link('sequences', s.id) },
  });
  const prospectDoc = (p: Prospect) => ({
    type: 'prospect', id: p.id,
    attributes: { ...p.attributes, createdAt: p.createdAt, updatedAt: p.updatedAt },
    relationships: { sequenceStates: { data: [...states.values()].filter((s) => s.prospectId === p.id).map((s) => ({ type: 'sequenceState', id: s.id })) } },
    links: { self: link('prospects', p.id) },
  });
  const stateDoc = (s: SequenceState) => ({
    type: 'sequenceState', id: s.id,
    attributes: {
      state: s.state, createdAt: s.createdAt, updatedAt: s.updatedAt, activeAt: s.createdAt, stateChangedAt: s.createdAt,
      clickCount: 0, deliverCount: 0, failureCount: 0, openCount: 0, replyCount: 0, bounceCount: 0, repliedAt: null, errorReason: null,
    },
    relationships: {
      prospect: { data: { type: 'prospect', id: s.prospectId } },
      sequence: { data: { type: 'sequence', id: s.sequenceId } },
      mailbox: { data: { type: 'mailbox', id: s.mailboxId } },
      sequenceStep: { data: { type: 'sequenceStep', id: s.sequenceId * 100 + 1 } },
    },
    links: { self: link('sequenceStates', s.id) },
  });

  /** A JSON:API page of `items`, by `page[size]` (default 50, at most 1000) and `page[after]`. */
  const paged = <T>(ctx: RouteContext, items: T[], toDoc: (x: T) => unknown, salt: string): Reply => {
    const size = Number(ctx.search.get('page[size]') ?? 50);
    if (!Number.isInteger(size) || size < 1 || size > 1000) throw new ApiError(errors(400, { id: 'paginationInvalidValue', title: 'Invalid Pagination Value', detail: 'page[size] must be between 1 and 1000.', source: { pointer: '/page/size' } }));
    let offset = 0;
    const after = ctx.search.get('page[after]');
    if (after !== null) {
      const o = decodeCursor(after, salt);
      if (o === undefined) throw new ApiError(errors(400, { id: 'paginationInvalidValue', title: 'Invalid Pagination Value', detail: 'page[after] is not a valid cursor.', source: { pointer: '/page/after' } }));
      offset = o;
    }
    const slice = items.slice(offset, offset + size);
    const links: Record<string, string> = { first: `${baseUrl}${ctx.req.path}?page%5Bsize%5D=${size}` };
    if (offset + slice.length < items.length) {
      const q = new URLSearchParams(ctx.search);
      q.set('page[after]', encodeCursor(offset + slice.length, salt));
      links.next = `${baseUrl}${ctx.req.path}?${q.toString()}`;
    }
    return { status: 200, headers: { 'content-type': 'application/vnd.api+json; charset=utf-8' }, body: { data: slice.map(toDoc), meta: { count: items.length }, links } };
  };

  const documentOf = (body: unknown, type: string): Record<string, unknown> => {
    if (!isPlainObject(body) || !isPlainObject(body.data)) validation('/data', 'The request document must have a top-level data member.', 'invalidDocument', 'Invalid Document');
    const data = body.data;
    if (data.type !== type) validation('/data/type', `The type must be "${type}".`, 'typeMismatch', 'Type Mismatch');
    return data;
  };
  const prospectAttributes = (data: Record<string, unknown>, exceptId?: number): Record<string, unknown> => {
    const attributes = data.attributes === undefined ? {} : data.attributes;
    if (!isPlainObject(attributes)) validation('/data/attributes', 'attributes must be an object');
    for (const k of Object.keys(attributes)) if (!PROSPECT_ATTRIBUTES.has(k)) validation(`/data/attributes/${k}`, `Unknown attribute "${k}" for prospect.`, 'unknownAttribute', 'Unknown Attribute');
    if (attributes.emails !== undefined) {
      if (!Array.isArray(attributes.emails) || attributes.emails.some((e) => typeof e !== 'string')) validation('/data/attributes/emails', 'emails must be an array of strings');
      for (const e of attributes.emails as string[]) {
        if (!EMAIL_PATTERN.test(e)) validation('/data/attributes/emails', `Email ${e} is invalid`);
        if (!options.allowDuplicateEmails) {
          const dup = [...prospects.values()].find((p) => p.id !== exceptId && ((p.attributes.emails as string[] | undefined) ?? []).some((x) => x.toLowerCase() === e.toLowerCase()));
          if (dup) validation('/data', 'A Contact with this email_hash already exists.', 'validationDuplicateValueError', 'Validation Duplicate Value Error');
        }
      }
    }
    return attributes;
  };
  const relId = (data: Record<string, unknown>, name: string, type: string): number => {
    const rels = isPlainObject(data.relationships) ? data.relationships : {};
    const rel = rels[name];
    const ref = isPlainObject(rel) && isPlainObject(rel.data) ? rel.data : undefined;
    if (!ref || ref.id === undefined || ref.id === null) validation(`/data/relationships/${name}`, `${name.charAt(0).toUpperCase()}${name.slice(1)} can't be blank`);
    if (ref.type !== type) validation(`/data/relationships/${name}/data/type`, `The type must be "${type}".`, 'typeMismatch', 'Type Mismatch');
    const id = Number(ref.id);
    if (!Number.isInteger(id)) validation(`/data/relationships/${name}/data/id`, `${String(ref.id)} is not a valid id`);
    return id;
  };
  const notFound = (type: string, id: string | number) => new ApiError(errors(404, { id: 'resourceNotFound', title: 'Resource Not Found', detail: `Could not find '${type}' with ID '${id}'.` }));
  const doc = (status: number, data: unknown): Reply => ({ status, headers: { 'content-type': 'application/vnd.api+json; charset=utf-8' }, body: { data } });

  const routes = [
    {
      method: 'GET', path: '/api/v2/sequences',
      handle(ctx: RouteContext): Reply {
        const name = ctx.search.get('filter[name]');
        return paged(ctx, sequences.filter((s) => name === null || s.name === name), sequenceDoc, `seq:${name ?? ''}`);
      },
    },
    {
      method: 'GET', path: '/api/v2/sequences/:id',
      handle(ctx: RouteContext): Reply {
        const s = sequences.find((x) => String(x.id) === ctx.params.id);
        if (!s) throw notFound('sequence', ctx.params.id!);
        return doc(200, sequenceDoc(s));
      },
    },
    {
      method: 'GET', path: '/api/v2/mailboxes',
      handle: (ctx: RouteContext): Reply => paged(ctx, mailboxes, (m) => ({ type: 'mailbox', id: m.id, attributes: { email: m.email, sendDisabled: false } }), 'mailboxes'),
    },
    {
      method: 'GET', path: '/api/v2/prospects',
      handle(ctx: RouteContext): Reply {
        const email = ctx.search.get('filter[emails]')?.toLowerCase();
        const all = [...prospects.values()].filter((p) => email === undefined || ((p.attributes.emails as string[] | undefined) ?? []).some((e) => e.toLowerCase() === email));
        return paged(ctx, all, prospectDoc, `prospects:${email ?? ''}`);
      },
    },
    {
      method: 'POST', path: '/api/v2/prospects',
      handle(ctx: RouteContext): Reply {
        const data = documentOf(ctx.req.body, 'prospect');
        const attributes = prospectAttributes(data);
        const now = new Date().toISOString().replace(/\.\d{3}Z$/, '.000Z');
        const p: Prospect = { id: nextProspect++, attributes: { emails: [], tags: [], ...attributes }, createdAt: now, updatedAt: now };
        prospects.set(p.id, p);
        return doc(201, prospectDoc(p));
      },
    },
    {
      method: 'GET', path: '/api/v2/prospects/:id',
      handle(ctx: RouteContext): Reply {
        const p = prospects.get(Number(ctx.params.id));
        if (!p) throw notFound('prospect', ctx.params.id!);
        return doc(200, prospectDoc(p));
      },
    },
    {
      method: 'PATCH', path: '/api/v2/prospects/:id',
      handle(ctx: RouteContext): Reply {
        const p = prospects.get(Number(ctx.params.id));
        if (!p) throw notFound('prospect', ctx.params.id!);
        const data = documentOf(ctx.req.body, 'prospect');
        if (data.id !== undefined && String(data.id) !== ctx.params.id) validation('/data/id', 'The id in the document does not match the URL.', 'idMismatch', 'ID Mismatch');
        Object.assign(p.attributes, prospectAttributes(data, p.id));
        p.updatedAt = new Date().toISOString();
        return doc(200, prospectDoc(p));
      },
    },
    {
      method: 'POST', path: '/api/v2/sequenceStates',
      handle(ctx: RouteContext): Reply {
        const data = documentOf(ctx.req.body, 'sequenceState');
        const prospectId = relId(data, 'prospect', 'prospect');
        const sequenceId = relId(data, 'sequence', 'sequence');
        const mailboxId = relId(data, 'mailbox', 'mailbox');
        if (!prospects.has(prospectId)) validation('/data/relationships/prospect', `Prospect ${prospectId} does not exist`);
        const sequence = sequences.find((s) => s.id === sequenceId);
        if (!sequence) validation('/data/relationships/sequence', `Sequence ${sequenceId} does not exist`);
        if (!mailboxes.some((m) => m.id === mailboxId)) validation('/data/relationships/mailbox', `Mailbox ${mailboxId} does not exist`);
        if (!sequence.enabled) validation('/data/relationships/sequence', 'Sequence is not enabled; enable it before adding prospects.');
        if ([...states.values()].some((s) => s.prospectId === prospectId && s.sequenceId === sequenceId && s.state === 'active')) {
          validation('/data', 'Prospect is already active in this sequence.', 'validationError', 'Validation Error');
        }
        const now = new Date().toISOString();
        const s: SequenceState = { id: nextState++, prospectId, sequenceId, mailboxId, state: 'active', createdAt: now, updatedAt: now };
        states.set(s.id, s);
        return doc(201, stateDoc(s));
      },
    },
    {
      method: 'GET', path: '/api/v2/sequenceStates',
      handle(ctx: RouteContext): Reply {
        const pid = ctx.search.get('filter[prospect][id]');
        const sid = ctx.search.get('filter[sequence][id]');
        const all = [...states.values()].filter((s) => (pid === null || String(s.prospectId) === pid) && (sid === null || String(s.sequenceId) === sid));
        return paged(ctx, all, stateDoc, `states:${pid ?? ''}:${sid ?? ''}`);
      },
    },
  ];

  const emulator = await startHttpEmulator({
    name: 'sequences',
    routes,
    authenticate(req) {
      const given = bearerToken(req.headers);
      if (given === undefined) return errors(401, { id: 'unauthorizedRequest', title: 'Unauthorized Request', detail: 'You must provide an OAuth access token as "Authorization: Bearer <token>".' });
      if (given !== token) return errors(401, { id: 'unauthorizedOauthToken', title: 'Unauthorized OAuth Token', detail: 'The OAuth token provided is invalid or has expired.' });
      return null;
    },
    errorReply,
    resetState() {
      prospects.clear();
      states.clear();
      nextProspect = 1;
      nextState = 1;
    },
  }, options, { token, sequences, mailboxes, prospects, sequenceStates: states });
  baseUrl = emulator.url;
  return emulator;
}
