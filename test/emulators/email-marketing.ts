import { randomUUID } from 'node:crypto';
import {
  ApiError, EMAIL_PATTERN, basicCredentials, bearerToken, md5, newId, startHttpEmulator,
  type CommonOptions, type Emulator, type ErrorKind, type Reply, type RouteContext,
} from './base.ts';
import { isPlainObject } from '../../libs/json/index.ts';

/**
 * An email marketing tool (use case 5), mimicking the Mailchimp Marketing API 3.0.
 * Auth: HTTP Basic with any user name and the API key as password (`anystring:<key>`),
 * `Authorization: apikey <key>` or a Bearer token, as Mailchimp accepts. Errors are
 * `application/problem+json`: `{ type, title, status, detail, instance, errors? }`.
 *
 * Routes (under /3.0):
 * - GET    /ping
 * - GET    /lists, /lists/:listId
 * - POST   /lists/:listId                          batch subscribe: { members: [..≤500], update_existing? }
 *                                                  → { new_members, updated_members, errors, total_created, total_updated, error_count }
 * - GET    /lists/:listId/members?count&offset&status   → { members, list_id, total_items }
 * - POST   /lists/:listId/members                  add one: { email_address, status, merge_fields?, tags? }; an existing address is 400 "Member Exists"
 * - GET    /lists/:listId/members/:hash            hash = md5(lower-case email), or the email itself
 * - PUT    /lists/:listId/members/:hash            add or update: { email_address, status_if_new (for a new member), status?, merge_fields? }
 * - PATCH  /lists/:listId/members/:hash            update
 * - DELETE /lists/:listId/members/:hash            archive (204)
 * - POST   /lists/:listId/members/:hash/tags       { tags: [{ name, status: 'active' | 'inactive' }] } (204)
 */

export type MemberStatus = 'subscribed' | 'unsubscribed' | 'cleaned' | 'pending' | 'transactional' | 'archived';
const SETTABLE: MemberStatus[] = ['subscribed', 'unsubscribed', 'cleaned', 'pending', 'transactional'];

export interface ListMember {
  id: string;
  email_address: string;
  unique_email_id: string;
  contact_id: string;
  full_name: string;
  web_id: number;
  email_type: 'html' | 'text';
  status: MemberStatus;
  merge_fields: Record<string, unknown>;
  interests: Record<string, boolean>;
  stats: { avg_open_rate: number; avg_click_rate: number };
  ip_signup: string;
  timestamp_signup: string;
  ip_opt: string;
  timestamp_opt: string;
  member_rating: number;
  last_changed: string;
  language: string;
  vip: boolean;
  email_client: string;
  location: { latitude: number; longitude: number; gmtoff: number; dstoff: number; country_code: string; timezone: string; region: string };
  source: string;
  tags_count: number;
  tags: { id: number; name: string }[];
  list_id: string;
}

export interface MailingList { id: string; name: string }

export interface EmailMarketingOptions extends CommonOptions {
  /** Default `0123456789abcdef0123456789abcdef-us21` (the `-us21` part is Mailchimp's datacenter). */
  apiKey?: string;
  /** Default: one list, `{ id: 'a1b2c3d4e5', name: 'Newsletter' }`. */
  lists?: MailingList[];
  /** Merge fields the lists declare (default FNAME, LNAME, COMPANY, PHONE); others are refused. */
  mergeFields?: string[];
  /** Merge fields that must be given for a new member (default none). */
  requiredMergeFields?: string[];
}

export interface EmailMarketingEmulator extends Emulator {
  apiKey: string;
  lists: MailingList[];
  /** Members by list id, then by subscriber hash. */
  members: Map<string, Map<string, ListMember>>;
  /** md5 of the lower-cased address, Mailchimp's subscriber hash. */
  subscriberHash(email: string): string;
}

const ERROR_DOCS = 'https://mailchimp.com/developer/marketing/docs/errors/';

function problem(status: number, title: string, detail: string, errors?: { field: string; message: string }[]): Reply {
  return {
    status,
    headers: { 'content-type': 'application/problem+json; charset=utf-8' },
    body: { type: ERROR_DOCS, title, status, detail, instance: randomUUID(), ...(errors ? { errors } : {}) },
  };
}

function invalid(errors: { field: string; message: string }[]): never {
  throw new ApiError(problem(400, 'Invalid Resource', "The resource submitted could not be validated. For field-specific details, see the 'errors' array.", errors));
}

function errorReply(status: number, kind: ErrorKind, message: string): Reply {
  switch (kind) {
    case 'rate_limited': return problem(status, 'Too Many Requests', 'You have exceeded the limit of 10 simultaneous connections.');
    case 'server_error': return problem(status, status === 503 ? 'Service Unavailable' : 'Internal Server Error', 'An unexpected internal error has occurred. Please contact Support for more information.');
    case 'not_found': return problem(404, 'Resource Not Found', 'The requested resource could not be found.');
    case 'method_not_allowed': return problem(405, 'Method Not Allowed', 'The requested method and resource are not compatible. See the Allow header for this resource\'s available methods.');
    case 'invalid_body': return problem(400, 'JSON Parse Exception', `We encountered an unspecified JSON parsing error. ${message}`);
    default: return problem(status, status >= 500 ? 'Internal Server Error' : 'Bad Request', message);
  }
}

export async function startEmailMarketingEmulator(options: EmailMarketingOptions = {}): Promise<EmailMarketingEmulator> {
  const apiKey = options.apiKey ?? '0123456789abcdef0123456789abcdef-us21';
  const lists = options.lists ?? [{ id: 'a1b2c3d4e5', name: 'Newsletter' }];
  const mergeFields = new Set(options.mergeFields ?? ['FNAME', 'LNAME', 'COMPANY', 'PHONE']);
  const required = options.requiredMergeFields ?? [];
  const members = new Map<string, Map<string, ListMember>>();
  const seed = () => {
    members.clear();
    for (const l of lists) members.set(l.id, new Map());
  };
  seed();
  let webId = 100_000;
  const hash = (email: string) => md5(email.toLowerCase());

  const listOf = (ctx: RouteContext): { list: MailingList; byHash: Map<string, ListMember> } => {
    const list = lists.find((l) => l.id === ctx.params.listId);
    if (!list) throw new ApiError(problem(404, 'Resource Not Found', 'The requested resource could not be found.'));
    return { list, byHash: members.get(list.id)! };
  };
  const keyOf = (raw: string): string => (raw.includes('@') ? hash(raw) : raw.toLowerCase());
  const memberOf = (ctx: RouteContext) => {
    const { list, byHash } = listOf(ctx);
    const key = keyOf(ctx.params.hash!);
    const m = byHash.get(key);
    return { list, byHash, key, member: m };
  };
  const notFound = () => new ApiError(problem(404, 'Resource Not Found', 'The requested resource could not be found.'));

  /** Validates a member body; `creating` requires the fields a new member needs. */
  const validate = (body: unknown, mode: 'create' | 'upsert' | 'update', exists: boolean): Record<string, unknown> => {
    if (!isPlainObject(body)) invalid([{ field: '', message: 'Schema describes object, NULL found instead' }]);
    const errors: { field: string; message: string }[] = [];
    const creating = mode === 'create' || (mode === 'upsert' && !exists);
    if (mode !== 'update' || body.email_address !== undefined) {
      if (typeof body.email_address !== 'string' || body.email_address === '') errors.push({ field: 'email_address', message: 'This value should not be blank.' });
      else if (!EMAIL_PATTERN.test(body.email_address)) {
        throw new ApiError(problem(400, 'Invalid Resource', `${body.email_address} looks fake or invalid, please enter a real email address.`));
      }
    }
    const statusField = mode === 'upsert' && !exists ? 'status_if_new' : 'status';
    const status = mode === 'upsert' && !exists ? body.status_if_new ?? body.status : body.status;
    if (creating && status === undefined) errors.push({ field: statusField, message: 'This value should not be blank.' });
    for (const f of ['status', 'status_if_new']) {
      if (body[f] !== undefined && !SETTABLE.includes(body[f] as MemberStatus)) errors.push({ field: f, message: `Value "${String(body[f])}" is not one of: ${SETTABLE.join(', ')}` });
    }
    if (body.merge_fields !== undefined) {
      if (!isPlainObject(body.merge_fields)) errors.push({ field: 'merge_fields', message: 'Schema describes object, ' + typeof body.merge_fields + ' found instead' });
      else for (const k of Object.keys(body.merge_fields)) if (!mergeFields.has(k)) errors.push({ field: `merge_fields.${k}`, message: `Merge field "${k}" does not exist on this list` });
    }
    if (creating && required.length > 0) {
      const mf = isPlainObject(body.merge_fields) ? body.merge_fields : {};
      for (const r of required) if (mf[r] === undefined || mf[r] === '') errors.push({ field: `merge_fields.${r}`, message: 'Please enter a value' });
    }
    if (body.tags !== undefined && (!Array.isArray(body.tags) || body.tags.some((t) => typeof t !== 'string'))) errors.push({ field: 'tags', message: 'Schema describes array of strings' });
    if (errors.length > 0) invalid(errors);
    return body;
  };

  const write = (listId: string, byHash: Map<string, ListMember>, body: Record<string, unknown>, existing: ListMember | undefined, status: MemberStatus | undefined): ListMember => {
    const now = new Date().toISOString().replace(/\.\d{3}Z$/, '+00:00');
    const email = typeof body.email_address === 'string' ? body.email_address : existing!.email_address;
    const merge = { ...(existing?.merge_fields ?? Object.fromEntries([...mergeFields].map((f) => [f, '']))), ...(isPlainObject(body.merge_fields) ? body.merge_fields : {}) };
    const tagNames = new Set((existing?.tags ?? []).map((t) => t.name));
    for (const t of (body.tags as string[] | undefined) ?? []) tagNames.add(t);
    const tags = [...tagNames].map((name) => ({ id: parseInt(md5(name).slice(0, 6), 16), name }));
    const id = hash(email);
    const member: ListMember = {
      id,
      email_address: email,
      unique_email_id: existing?.unique_email_id ?? newId('', 10).toLowerCase(),
      contact_id: existing?.contact_id ?? md5(`contact:${email.toLowerCase()}`),
      full_name: [merge.FNAME, merge.LNAME].filter((x) => typeof x === 'string' && x !== '').join(' '),
      web_id: existing?.web_id ?? ++webId,
      email_type: body.email_type === 'text' ? 'text' : existing?.email_type ?? 'html',
      status: status ?? existing?.status ?? 'subscribed',
      merge_fields: merge,
      interests: existing?.interests ?? {},
      stats: existing?.stats ?? { avg_open_rate: 0, avg_click_rate: 0 },
      ip_signup: '',
      timestamp_signup: existing?.timestamp_signup ?? '',
      ip_opt: '',
      timestamp_opt: existing?.timestamp_opt ?? now,
      member_rating: 2,
      last_changed: now,
      language: typeof body.language === 'string' ? body.language : existing?.language ?? '',
      vip: body.vip === true || (existing?.vip ?? false),
      email_client: '',
      location: { latitude: 0, longitude: 0, gmtoff: 0, dstoff: 0, country_code: '', timezone: '', region: '' },
      source: existing?.source ?? 'API - Generic',
      tags_count: tags.length,
      tags,
      list_id: listId,
    };
    if (existing && existing.id !== id) byHash.delete(existing.id);
    byHash.set(id, member);
    return member;
  };

  const routes = [
    { method: 'GET', path: '/3.0/ping', handle: (): Reply => ({ status: 200, body: { health_status: "Everything's Chimpy!" } }) },
    {
      method: 'GET', path: '/3.0/lists',
      handle: (): Reply => ({
        status: 200,
        body: { lists: lists.map((l) => ({ id: l.id, web_id: 1, name: l.name, stats: { member_count: [...members.get(l.id)!.values()].filter((m) => m.status === 'subscribed').length } })), total_items: lists.length },
      }),
    },
    {
      method: 'GET', path: '/3.0/lists/:listId',
      handle(ctx: RouteContext): Reply {
        const { list, byHash } = listOf(ctx);
        const all = [...byHash.values()];
        return { status: 200, body: { id: list.id, web_id: 1, name: list.name, stats: { member_count: all.filter((m) => m.status === 'subscribed').length, unsubscribe_count: all.filter((m) => m.status === 'unsubscribed').length } } };
      },
    },
    {
      method: 'POST', path: '/3.0/lists/:listId',
      handle(ctx: RouteContext): Reply {
        const { list, byHash } = listOf(ctx);
        const body = ctx.req.body;
        if (!isPlainObject(body) || !Array.isArray(body.members)) invalid([{ field: 'members', message: 'This value should not be blank.' }]);
        if (body.members.length > 500) invalid([{ field: 'members', message: 'This collection should contain 500 elements or less.' }]);
        const update = body.update_existing === true;
        const created: ListMember[] = [];
        const updated: ListMember[] = [];
        const errors: { email_address: string; error: string; error_code: string; field: string; field_message: string }[] = [];
        for (const item of body.members as unknown[]) {
          const email = isPlainObject(item) && typeof item.email_address === 'string' ? item.email_address : '';
          const existing = email ? byHash.get(hash(email)) : undefined;
          try {
            if (existing && !update) {
              errors.push({ email_address: email, error: `${email} is already a list member, do you want to update? please provide update_existing:true in the request body`, error_code: 'ERROR_CONTACT_EXISTS', field: '', field_message: '' });
              continue;
            }
            const m = validate(item, existing ? 'update' : 'create', Boolean(existing));
            const status = (m.status ?? m.status_if_new) as MemberStatus | undefined;
            if (existing) updated.push(write(list.id, byHash, m, existing, status));
            else created.push(write(list.id, byHash, m, undefined, status));
          } catch (err) {
            if (!(err instanceof ApiError)) throw err;
            const b = err.reply.body as { detail: string; errors?: { field: string; message: string }[] };
            errors.push({ email_address: email, error: b.errors?.[0]?.message ?? b.detail, error_code: 'ERROR_GENERIC', field: b.errors?.[0]?.field ?? 'email_address', field_message: b.errors?.[0]?.message ?? b.detail });
          }
        }
        return {
          status: 200,
          body: { new_members: created, updated_members: updated, errors, total_created: created.length, total_updated: updated.length, error_count: errors.length, _links: [] },
        };
      },
    },
    {
      method: 'GET', path: '/3.0/lists/:listId/members',
      handle(ctx: RouteContext): Reply {
        const { list, byHash } = listOf(ctx);
        const count = Math.min(Number(ctx.search.get('count') ?? 10), 1000);
        const offset = Number(ctx.search.get('offset') ?? 0);
        if (!Number.isInteger(count) || count < 0 || !Number.isInteger(offset) || offset < 0) invalid([{ field: 'count', message: 'count and offset must be non-negative integers' }]);
        const status = ctx.search.get('status');
        const all = [...byHash.values()].filter((m) => (status ? m.status === status : m.status !== 'archived'));
        return { status: 200, body: { members: all.slice(offset, offset + count), list_id: list.id, total_items: all.length, _links: [] } };
      },
    },
    {
      method: 'POST', path: '/3.0/lists/:listId/members',
      handle(ctx: RouteContext): Reply {
        const { list, byHash } = listOf(ctx);
        const body = validate(ctx.req.body, 'create', false);
        const email = body.email_address as string;
        const existing = byHash.get(hash(email));
        if (existing && existing.status !== 'archived') {
          throw new ApiError(problem(400, 'Member Exists', `${email} is already a list member. Use PUT to insert or update list members.`));
        }
        return { status: 200, body: write(list.id, byHash, body, existing, body.status as MemberStatus) };
      },
    },
    {
      method: 'GET', path: '/3.0/lists/:listId/members/:hash',
      handle(ctx: RouteContext): Reply {
        const { member } = memberOf(ctx);
        if (!member) throw notFound();
        return { status: 200, body: member };
      },
    },
    {
      method: 'PUT', path: '/3.0/lists/:listId/members/:hash',
      handle(ctx: RouteContext): Reply {
        const { list, byHash, key, member } = memberOf(ctx);
        const body = validate(ctx.req.body, 'upsert', Boolean(member));
        if (hash(body.email_address as string) !== key) {
          invalid([{ field: 'email_address', message: 'The email address does not match the subscriber hash in the URL.' }]);
        }
        const status = (member ? body.status : body.status ?? body.status_if_new) as MemberStatus | undefined;
        return { status: 200, body: write(list.id, byHash, body, member, status) };
      },
    },
    {
      method: 'PATCH', path: '/3.0/lists/:listId/members/:hash',
      handle(ctx: RouteContext): Reply {
        const { list, byHash, member } = memberOf(ctx);
        if (!member) throw notFound();
        const body = validate(ctx.req.body, 'update', true);
        return { status: 200, body: write(list.id, byHash, body, member, body.status as MemberStatus | undefined) };
      },
    },
    {
      method: 'DELETE', path: '/3.0/lists/:listId/members/:hash',
      handle(ctx: RouteContext): Reply {
        const { member } = memberOf(ctx);
        if (!member || member.status === 'archived') throw notFound();
        member.status = 'archived';
        return { status: 204 };
      },
    },
    {
      method: 'POST', path: '/3.0/lists/:listId/members/:hash/tags',
      handle(ctx: RouteContext): Reply {
        const { member } = memberOf(ctx);
        if (!member) throw notFound();
        const body = ctx.req.body;
        if (!isPlainObject(body) || !Array.isArray(body.tags)) invalid([{ field: 'tags', message: 'This value should not be blank.' }]);
        for (const t of body.tags as unknown[]) {
          if (!isPlainObject(t) || typeof t.name !== 'string' || (t.status !== 'active' && t.status !== 'inactive')) {
            invalid([{ field: 'tags', message: 'Each tag needs a name and a status of active or inactive.' }]);
          }
          const name = t.name as string;
          member.tags = member.tags.filter((x) => x.name !== name);
          if (t.status === 'active') member.tags.push({ id: parseInt(md5(name).slice(0, 6), 16), name });
        }
        member.tags_count = member.tags.length;
        return { status: 204 };
      },
    },
  ];

  return startHttpEmulator({
    name: 'email-marketing',
    routes,
    authenticate(req) {
      const apikeyScheme = /^apikey\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
      const given = basicCredentials(req.headers)?.pass ?? bearerToken(req.headers) ?? apikeyScheme;
      if (given === undefined || given === '') return problem(401, 'API Key Missing', 'Your request did not include an API key.');
      if (given !== apiKey) return problem(401, 'API Key Invalid', "Your API key may be invalid, or you've attempted to access the wrong datacenter.");
      return null;
    },
    errorReply,
    resetState: seed,
  }, options, { apiKey, lists, members, subscriberHash: hash });
}
