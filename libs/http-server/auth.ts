import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { raise } from './errors.ts';
import type { RateLimiter } from './rate-limit.ts';
import type { BodyErrorCode } from './validation.ts';

export interface Principal { workspaceId: string; keyId: string }

/**
 * Who may call a route, declared on the route (`config: { auth }`) and enforced by one
 * onRequest hook, before the body is read: `workspace` needs a workspace API key,
 * `admin` the admin token, `public` nothing.
 */
export type AuthMode = 'workspace' | 'admin' | 'public';

declare module 'fastify' {
  interface FastifyContextConfig {
    auth?: AuthMode;
    /** The 400 code of a body the route's schema refuses (default BODY_INVALID). */
    invalidBody?: BodyErrorCode;
  }
  interface FastifyRequest {
    /** Set by the auth hook on `workspace` routes. */
    principal: Principal | null;
  }
}

export interface Authenticator {
  /** Resolves the workspace of a `Bearer <apiKey>` header; 401 when absent or unknown, 403 when revoked. */
  authenticate(authorization: string | undefined): Promise<Principal>;
  /** Forgets cached lookups of a key (called on revocation by this instance). */
  forget(keyId: string): void;
}

const BEARER = /^Bearer ([A-Za-z0-9_-]{1,200})$/;

/** Where keys are looked up (libs/store/workspaces.ts): by the key's hash, which is the document's `_id`. */
export interface KeyLookup {
  findKey(apiKey: string): Promise<{ workspaceId: string; keyId: string; revokedAt: Date | null } | null>;
}

/**
 * API key checks with a short positive/negative cache: a key is hashed and looked up
 * by `_id`; revocation made through this instance applies at once, through another
 * instance (another process) within `cacheMs`.
 */
export function createAuthenticator(workspaces: KeyLookup, cacheMs: number): Authenticator {
  const cache = new Map<string, { at: number; principal: Principal | null; revoked: boolean }>();
  return {
    async authenticate(authorization) {
      const m = authorization === undefined ? null : BEARER.exec(authorization.trim());
      if (!m) throw raise('UNAUTHORIZED', 'send the workspace API key as "Authorization: Bearer <apiKey>"', { path: '/headers/authorization' });
      const apiKey = m[1]!;
      let entry = cache.get(apiKey);
      if (!entry || Date.now() - entry.at > cacheMs) {
        const doc = await workspaces.findKey(apiKey);
        entry = { at: Date.now(), principal: doc ? { workspaceId: doc.workspaceId, keyId: doc.keyId } : null, revoked: Boolean(doc?.revokedAt) };
        if (cache.size > 10_000) cache.clear();
        cache.set(apiKey, entry);
      }
      if (!entry.principal) throw raise('UNAUTHORIZED', 'unknown API key', { path: '/headers/authorization' });
      if (entry.revoked) throw raise('KEY_REVOKED', `API key ${entry.principal.keyId} was revoked`, { path: '/headers/authorization' });
      return entry.principal;
    },
    forget(keyId) {
      for (const [k, v] of cache) if (v.principal?.keyId === keyId) cache.delete(k);
    },
  };
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Constant-time check of `Bearer <admin token>`; null when the service has no admin routes. */
function adminCheck(adminToken: string | null): (authorization: string | undefined) => void {
  const expected = adminToken === null ? null : digest(adminToken);
  return (authorization) => {
    const m = /^Bearer (.+)$/.exec(authorization ?? '');
    // Hash both sides so the comparison is constant-time whatever the lengths.
    if (!expected || !m || !timingSafeEqual(digest(m[1]!), expected)) {
      throw raise('UNAUTHORIZED', 'admin routes need "Authorization: Bearer <admin token>"', { path: '/headers/authorization' });
    }
  };
}

export interface AuthOptions {
  authenticator: Authenticator;
  limiter: RateLimiter;
  /** null: no route of this service may be declared `admin`. */
  adminToken: string | null;
}

/**
 * Routes declare their auth; one that does not is refused at registration (fail
 * closed), except under `publicPrefixes` (routes a plugin registers, such as the
 * Swagger UI's). The hook runs first thing for every matched route; a request that
 * matched none (404, 405, forwarding) is left to the not-found handler.
 */
export function installAuth(app: FastifyInstance, o: AuthOptions & { publicPrefixes?: readonly string[] }): void {
  const requireAdmin = adminCheck(o.adminToken);
  app.decorateRequest('principal', null);
  app.addHook('onRoute', (route) => {
    const declared = route.config?.auth;
    if (declared === 'workspace' || declared === 'public') return;
    if (declared === 'admin') {
      if (o.adminToken === null) throw new Error(`route ${String(route.method)} ${route.url} is declared admin, but this service has no admin token`);
      return;
    }
    if (o.publicPrefixes?.some((p) => route.url === p || route.url.startsWith(`${p}/`))) {
      route.config = { ...route.config, auth: 'public' };
      return;
    }
    throw new Error(`route ${String(route.method)} ${route.url} declares no config.auth ('workspace' | 'admin' | 'public')`);
  });
  app.addHook('onRequest', async (request) => {
    if (request.is404) return;
    // Undeclared cannot happen (see onRoute); should it, the route is a workspace route.
    const mode = request.routeOptions.config.auth ?? 'workspace';
    if (mode === 'public') return;
    if (mode === 'admin') return requireAdmin(request.headers.authorization);
    const principal = await o.authenticator.authenticate(request.headers.authorization);
    const claimed = request.headers['hub-workspace-id'];
    if (claimed !== undefined && claimed !== principal.workspaceId) {
      throw raise('WORKSPACE_FORBIDDEN', 'the Hub-Workspace-Id header names another workspace than this API key\'s', { path: '/headers/hub-workspace-id' });
    }
    o.limiter.take(principal.workspaceId);
    request.principal = principal;
  });
}

/** The caller of a `workspace` route. */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw raise('INTERNAL', 'route has no authenticated workspace');
  return request.principal;
}
