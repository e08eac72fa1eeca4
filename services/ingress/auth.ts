import type { WorkspaceStore } from './store/workspaces.ts';
import { raise } from './errors.ts';

export interface Principal { workspaceId: string; keyId: string }

export interface Authenticator {
  /** Resolves the workspace of a `Bearer <apiKey>` header; 401 when absent or unknown, 403 when revoked. */
  authenticate(authorization: string | undefined): Promise<Principal>;
  /** Forgets cached lookups of a key (called on revocation by this instance). */
  forget(keyId: string): void;
}

const BEARER = /^Bearer ([A-Za-z0-9_-]{1,200})$/;

/**
 * API key checks with a short positive/negative cache: a key is hashed and looked up
 * by `_id`; revocation made through this instance applies at once, through another
 * instance within `cacheMs`.
 */
export function createAuthenticator(workspaces: WorkspaceStore, cacheMs: number): Authenticator {
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
