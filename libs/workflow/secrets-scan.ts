/**
 * Finds what looks like a secret written into a workflow definition: a definition is
 * stored in versions, published on hub.workflows, shown by the API and copied into
 * every run, so a secret there leaks to everyone who can read any of them. Secrets go
 * into stored credentials (`POST /v1/credentials`), named by `auth.credential`.
 *
 * High-confidence patterns only (vendor prefixes, encoded credentials), so ordinary
 * text never trips it: a template (`{{...}}`) is never a hit, and a webhook trigger's
 * own `secret` (which the hub seals) is not scanned.
 */
import { escapePointer as esc, isPlainObject } from '../json/index.ts';

export interface SecretHit {
  /** JSON pointer to the string (or the object key) that holds it. */
  path: string;
  /** What it looks like, for the message (never the value itself). */
  kind: string;
}

interface Pattern {
  kind: string;
  re: RegExp;
  /** Only under /steps (whsec_ is a webhook trigger's own secret format). */
  stepsOnly?: boolean;
  /** Further check of a match, to stay high-confidence. */
  holds?(m: RegExpExecArray): boolean;
}

const LOOKS_RANDOM = (token: string) => /\d/.test(token) && /[A-Za-z]/.test(token);

function basicPair(encoded: string): boolean {
  if (encoded.length % 4 === 1) return false;
  const text = Buffer.from(encoded, 'base64').toString('latin1');
  // `user:password`, printable: "Basic information" decodes to noise and is not a hit.
  return /^[\x20-\x7e]{1,200}:[\x20-\x7e]{1,500}$/.test(text);
}

const SECRET_PARAMS = 'api[_-]?key|access[_-]?token|auth[_-]?token|refresh[_-]?token|client[_-]?secret|token|password|passwd|secret';
const SECRET_PARAM = new RegExp(`^(?:${SECRET_PARAMS})$`, 'i');
const isTemplate = (value: string) => value.includes('{{') || /%7B%7B/i.test(value);

const PATTERNS: readonly Pattern[] = [
  { kind: 'a private key', re: /-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----/ },
  { kind: 'a bearer token', re: /\bBearer[ \t]+([A-Za-z0-9\-._~+/]{20,}=*)/i, holds: (m) => LOOKS_RANDOM(m[1]!) },
  { kind: 'Basic credentials', re: /\bBasic[ \t]+([A-Za-z0-9+/]{8,}={0,2})(?![A-Za-z0-9+/=])/, holds: (m) => basicPair(m[1]!) },
  { kind: 'a Stripe secret key', re: /\b(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{10,}/ },
  { kind: 'a Slack token', re: /\bxox[abprs]-[0-9A-Za-z-]{10,}/ },
  { kind: 'a GitHub token', re: /\bgh[pousr]_[A-Za-z0-9]{30,}|\bgithub_pat_[A-Za-z0-9_]{20,}/ },
  { kind: 'an AWS access key id', re: /\bAKIA[0-9A-Z]{16}\b/ },
  { kind: 'a Google API key', re: /\bAIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])/ },
  { kind: 'a webhook signing secret', re: /\bwhsec_[A-Za-z0-9+/=]{16,}/, stepsOnly: true },
  { kind: 'a HubSpot private app token', re: /\bpat-[a-z]{2}\d-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/i },
  { kind: 'a SendGrid API key', re: /\bSG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}/ },
  { kind: 'a JSON Web Token', re: /\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/ },
  { kind: 'a URL with a password', re: /\b[a-z][a-z0-9+.-]*:\/\/[^\s/?#@:]*:([^\s/?#@]+)@/i, holds: (m) => !isTemplate(m[1]!) },
  {
    kind: 'a secret query parameter',
    re: new RegExp(`[?&](?:${SECRET_PARAMS})=([^&#\\s]+)`, 'i'),
    holds: (m) => !isTemplate(m[1]!),
  },
];

function kindIn(text: string, inSteps: boolean): string | undefined {
  for (const p of PATTERNS) {
    if (p.stepsOnly && !inSteps) continue;
    const m = p.re.exec(text);
    if (m && (!p.holds || p.holds(m))) return p.kind;
  }
  return undefined;
}

const MAX_DEPTH = 100;

/** Every string and object key, in document order; the first hit is returned. */
function scanValue(value: unknown, path: string, depth: number): SecretHit | undefined {
  if (path === '/trigger/secret' || depth > MAX_DEPTH) return undefined;
  const inSteps = path === '/steps' || path.startsWith('/steps/');
  if (typeof value === 'string') {
    const kind = kindIn(value, inSteps);
    return kind === undefined ? undefined : { path, kind };
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const hit = scanValue(value[i], `${path}/${i}`, depth + 1);
      if (hit) return hit;
    }
  } else if (isPlainObject(value)) {
    for (const [key, child] of Object.entries(value)) {
      const at = `${path}/${esc(key)}`;
      const kind = kindIn(key, inSteps);
      if (kind !== undefined) return { path: at, kind };
      const hit = scanValue(child, at, depth + 1);
      if (hit) return hit;
    }
  }
  return undefined;
}

/** http steps' `query` objects: a secret-named parameter with a literal value. */
function scanQueries(steps: unknown, path: string, depth: number): SecretHit | undefined {
  if (!Array.isArray(steps) || depth > MAX_DEPTH) return undefined;
  for (let i = 0; i < steps.length; i++) {
    const step = steps[i];
    if (!isPlainObject(step) || !isPlainObject(step.input)) continue;
    const at = `${path}/${i}/input`;
    const input = step.input;
    if (step.type === 'http' && isPlainObject(input.query)) {
      for (const [name, value] of Object.entries(input.query)) {
        const literal = (typeof value === 'string' && value !== '' && !isTemplate(value)) || typeof value === 'number';
        if (literal && SECRET_PARAM.test(name)) return { path: `${at}/query/${esc(name)}`, kind: `a literal value for the query parameter "${name}"` };
      }
    }
    const nested = [
      scanQueries(input.steps, `${at}/steps`, depth + 1),
      scanQueries(input.else, `${at}/else`, depth + 1),
      ...(Array.isArray(input.branches) ? input.branches.map((b, j) => (isPlainObject(b) ? scanQueries(b.steps, `${at}/branches/${j}/steps`, depth + 1) : undefined)) : []),
    ].find((hit) => hit !== undefined);
    if (nested) return nested;
  }
  return undefined;
}

/** The first thing in a workflow definition (as sent) that looks like a secret, if any. */
export function findSecret(definition: unknown): SecretHit | undefined {
  const hit = scanValue(definition, '', 0);
  if (hit) return hit;
  return isPlainObject(definition) ? scanQueries(definition.steps, '/steps', 0) : undefined;
}

/** The refusal's message: what was found (never the value) and where secrets go instead. */
export function secretMessage(hit: SecretHit): string {
  return `this looks like ${hit.kind}: secrets must not be written into a workflow (its versions, events and runs show it). `
    + 'Store it with POST /v1/credentials and name it in an http step\'s auth.credential';
}
