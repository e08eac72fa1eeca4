import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ApiDeps } from '../deps.ts';
import { raise } from '../../../libs/http-server/errors.ts';
import { principalOf } from '../../../libs/http-server/auth.ts';
import { Secret } from '../../../libs/secrets/crypto.ts';
import { credentialTypes, type CredentialMaterial, type CredentialType } from '../../../libs/store/credentials.ts';
import { pointer } from '../../../libs/json/index.ts';

/** A subset of what a workflow's `auth.credential` accepts, starting with a letter or digit. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$/;
const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$/;
/** Headers the HTTP client owns (framing, encoding): a credential cannot set them. */
const CLIENT_HEADERS: ReadonlySet<string> = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade', 'te', 'trailer', 'expect', 'accept-encoding']);
/** Control characters (tab aside) would split or corrupt a header or an SMTP command. */
const hasControl = (text: string): boolean => [...text].some((c) => { const n = c.charCodeAt(0); return (n < 0x20 && n !== 0x09) || n === 0x7f; });
const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$|^\[[0-9A-Fa-f:.]{2,45}\]$/;
const ADDRESS = /^[^\s@<>"]{1,64}@[^\s@<>"]{1,255}$/;
const FROM = /^(?:[^<>\r\n]{0,200}<([^<>]+)>|([^<>\s]+))$/;
const BODY_LIMIT = 64 * 1024;

const FIELDS: Record<CredentialType, { allowed: readonly string[]; required: readonly string[] }> = {
  bearer: { allowed: ['token'], required: ['token'] },
  basic: { allowed: ['username', 'password'], required: ['username', 'password'] },
  header: { allowed: ['header', 'value'], required: ['header', 'value'] },
  smtp: { allowed: ['host', 'port', 'secure', 'username', 'password', 'from'], required: ['host'] },
  'webhook-secret': { allowed: ['secret'], required: ['secret'] },
  chat: { allowed: ['webhookUrl'], required: ['webhookUrl'] },
};

/** A chat webhook (Slack, Mattermost, Rocket.Chat, Teams' Slack-compatible hooks): http(s) with a host; the notifier's HTTP client guards the address. */
function chat(b: Record<string, unknown>): CredentialMaterial {
  const text_ = text(b.webhookUrl, 'webhookUrl', 2000);
  let url: URL;
  try {
    url = new URL(text_);
  } catch {
    throw bad('/webhookUrl', 'webhookUrl must be an https:// (or http://) URL');
  }
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.hostname === '') throw bad('/webhookUrl', 'webhookUrl must be an https:// (or http://) URL');
  return { type: 'chat', host: url.host, webhookUrl: new Secret(text_) };
}

const bad = (path: string, message: string) => raise('BODY_INVALID', message, { path });

/** A string of 1..max characters without control characters; messages never repeat the value. */
function text(value: unknown, field: string, max: number): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > max) throw bad(`/${field}`, `${field} must be a string of 1 to ${max} characters`);
  if (hasControl(value)) throw bad(`/${field}`, `${field} must not contain line breaks or other control characters`);
  return value;
}

function smtp(b: Record<string, unknown>): CredentialMaterial {
  const host = text(b.host, 'host', 253);
  if (!HOST.test(host)) throw bad('/host', 'host must be a host name or an IP address (e.g. "smtp.example.com")');
  if (b.port !== undefined && (typeof b.port !== 'number' || !Number.isInteger(b.port) || b.port < 1 || b.port > 65535)) throw bad('/port', 'port must be an integer from 1 to 65535');
  if (b.secure !== undefined && typeof b.secure !== 'boolean') throw bad('/secure', 'secure must be true (TLS from the start, port 465) or false (STARTTLS when offered)');
  const port = (b.port as number | undefined) ?? (b.secure === true ? 465 : 587);
  const secure = (b.secure as boolean | undefined) ?? port === 465;
  if (b.username !== undefined && b.password === undefined) throw bad('/password', 'password is required with a username');
  if (b.password !== undefined && b.username === undefined) throw bad('/username', 'username is required with a password');
  let from: string | undefined;
  if (b.from !== undefined) {
    from = text(b.from, 'from', 320);
    const m = FROM.exec(from.trim());
    if (!m || !ADDRESS.test(m[1] ?? m[2] ?? '')) throw bad('/from', 'from must be an address, or "Name <address>"');
    from = from.trim();
  }
  return {
    type: 'smtp', host, port, secure,
    ...(b.username === undefined ? {} : { username: text(b.username, 'username', 200), password: new Secret(text(b.password, 'password', 1024)) }),
    ...(from === undefined ? {} : { from }),
  };
}

/**
 * `{"name", "type", ...fields of the type}` checked field by field. Secret fields are
 * wrapped in `Secret` at once, so nothing after this point can log them by accident.
 */
export function parseCredentialBody(body: unknown, nameFromPath?: string): { name: string; material: CredentialMaterial } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw bad('', 'body must be a JSON object like {"name": "crm-api", "type": "bearer", "token": "..."}');
  const b = body as Record<string, unknown>;
  let name = b.name;
  if (nameFromPath !== undefined) {
    if (name !== undefined && name !== nameFromPath) throw bad('/name', `name must be "${nameFromPath}" (the credential in the URL) or left out; a credential cannot be renamed`);
    name = nameFromPath;
  }
  if (typeof name !== 'string' || !NAME.test(name)) throw bad('/name', 'name must have 1 to 100 letters, digits, _ . : - and start with a letter or digit');
  const type = b.type;
  if (typeof type !== 'string' || !(credentialTypes as readonly string[]).includes(type)) throw bad('/type', `type must be one of ${credentialTypes.join(', ')}`);
  const spec = FIELDS[type as CredentialType];
  for (const key of Object.keys(b)) {
    if (key !== 'name' && key !== 'type' && !spec.allowed.includes(key)) throw bad(pointer('', key), `unknown field "${key}" for a ${type} credential; allowed: name, type, ${spec.allowed.join(', ')}`);
  }
  for (const key of spec.required) if (b[key] === undefined) throw bad(`/${key}`, `${key} is required for a ${type} credential`);
  switch (type as CredentialType) {
    case 'bearer':
      return { name, material: { type: 'bearer', token: new Secret(text(b.token, 'token', 4096)) } };
    case 'basic': {
      const username = text(b.username, 'username', 200);
      // RFC 7617: the user-id of Basic authentication cannot contain a colon.
      if (username.includes(':')) throw bad('/username', 'username must not contain ":" (Basic authentication splits on it)');
      // An empty password is allowed: APIs such as Stripe's and MadKudu's take `key:`.
      const password = b.password === '' ? '' : text(b.password, 'password', 1024);
      return { name, material: { type: 'basic', username, password: new Secret(password) } };
    }
    case 'header': {
      const header = text(b.header, 'header', 100);
      if (!HEADER_NAME.test(header)) throw bad('/header', 'header must be a header name such as "X-Api-Key"');
      if (CLIENT_HEADERS.has(header.toLowerCase())) throw bad('/header', `${header} is set by the HTTP client and cannot come from a credential`);
      return { name, material: { type: 'header', header, value: new Secret(text(b.value, 'value', 8000)) } };
    }
    case 'smtp':
      return { name, material: smtp(b) };
    case 'webhook-secret':
      return { name, material: { type: 'webhook-secret', secret: new Secret(text(b.secret, 'secret', 4096)) } };
    case 'chat':
      return { name, material: chat(b) };
  }
}

/**
 * Stored credentials of a workspace. Answers show metadata only (never a secret, sealed
 * or not); log lines name the credential, never its material.
 */
export function credentialRoutes(app: FastifyInstance, d: ApiDeps): void {
  const tags = ['credentials'];
  const params = { type: 'object', required: ['name'], properties: { name: { type: 'string' } } } as const;
  // One outline for every type; which fields a type takes (and requires) is checked by parseCredentialBody.
  const body = {
    type: 'object', required: ['name', 'type'], additionalProperties: false,
    properties: {
      name: { type: 'string', pattern: NAME.source, description: '1 to 100 letters, digits, _ . : - (starting with a letter or digit)' },
      type: { type: 'string', enum: [...credentialTypes] },
      token: { type: 'string', description: 'bearer: sent as Authorization: Bearer <token>' },
      username: { type: 'string', description: 'basic, smtp (not secret)' }, password: { type: 'string', description: 'basic, smtp' },
      header: { type: 'string', description: 'header: the header name (not secret)' }, value: { type: 'string', description: 'header: the header value' },
      host: { type: 'string', description: 'smtp' }, port: { type: 'integer', minimum: 1, maximum: 65535, description: 'smtp' },
      secure: { type: 'boolean', description: 'smtp' }, from: { type: 'string', description: 'smtp: an address, or "Name <address>"' },
      secret: { type: 'string', description: 'webhook-secret: the signing secret of an app\'s webhooks (data sync)' },
      webhookUrl: { type: 'string', description: 'chat: a Slack-compatible incoming webhook URL (secret: it carries the token; the host is shown)' },
    },
  } as const;
  const nameParam = (request: FastifyRequest) => (request.params as { name: string }).name;
  const notFound = (name: string) => raise('NOT_FOUND', `no credential ${name}`, { path: '/params/name' });
  void app.register(async (scope) => {
    // Our own JSON parser: the default one's errors quote the body, which here holds secrets.
    scope.removeContentTypeParser('application/json');
    scope.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: BODY_LIMIT }, (_request, text, done) => {
      if (text === '') { done(null, undefined); return; }
      try {
        done(null, JSON.parse(text as string));
      } catch {
        done(raise('JSON_INVALID', 'body is not valid JSON', { path: '' }), undefined);
      }
    });

    scope.post('/v1/credentials', { config: { auth: 'workspace' }, bodyLimit: BODY_LIMIT, schema: { tags, summary: 'Store a credential (bearer, basic, header, smtp, webhook-secret or chat); the answer never shows the secret', body } }, async (request, reply) => {
      const principal = principalOf(request);
      const { name, material } = parseCredentialBody(request.body);
      const created = await d.credentials.create(principal.workspaceId, name, material);
      if (!created) throw raise('CREDENTIAL_EXISTS', `credential ${name} exists; replace it with PUT /v1/credentials/${name}`, { path: '/name' });
      d.log.info({ workspaceId: principal.workspaceId, credential: name, type: material.type }, 'credential created');
      return reply.code(201).send(created);
    });
    scope.get('/v1/credentials', { config: { auth: 'workspace' }, schema: { tags, summary: 'List the workspace\'s credentials (metadata only)' } }, async (request) => {
      const principal = principalOf(request);
      return { credentials: await d.credentials.list(principal.workspaceId) };
    });
    scope.get('/v1/credentials/:name', { config: { auth: 'workspace' }, schema: { tags, summary: 'Read a credential (metadata only)', params } }, async (request) => {
      const principal = principalOf(request);
      const name = nameParam(request);
      const found = NAME.test(name) ? await d.credentials.get(principal.workspaceId, name) : null;
      if (!found) throw notFound(name);
      return found;
    });
    scope.put('/v1/credentials/:name', { config: { auth: 'workspace' }, bodyLimit: BODY_LIMIT, schema: { tags, summary: 'Replace a credential (rotation): same name, new secret', params, body: { ...body, required: ['type'] } } }, async (request) => {
      const principal = principalOf(request);
      const name = nameParam(request);
      if (!NAME.test(name)) throw notFound(name);
      const parsed = parseCredentialBody(request.body, name);
      const replaced = await d.credentials.replace(principal.workspaceId, name, parsed.material);
      if (!replaced) throw notFound(name);
      d.log.info({ workspaceId: principal.workspaceId, credential: name, type: parsed.material.type, keyId: replaced.keyId }, 'credential replaced');
      return replaced;
    });
    scope.delete('/v1/credentials/:name', { config: { auth: 'workspace' }, schema: { tags, summary: 'Delete a credential (steps naming it then fail with CREDENTIAL_NOT_FOUND)', params } }, async (request, reply) => {
      const principal = principalOf(request);
      const name = nameParam(request);
      if (!NAME.test(name) || !(await d.credentials.remove(principal.workspaceId, name))) throw notFound(name);
      d.log.info({ workspaceId: principal.workspaceId, credential: name }, 'credential deleted');
      return reply.code(204).send();
    });
  });
}
