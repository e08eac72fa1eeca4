import { createHash, randomBytes } from 'node:crypto';
import type { Db } from 'mongodb';
import type { CollectionSpec } from './mongo.ts';
import { isDuplicateKey, storeError } from './errors.ts';

export interface Workspace { _id: string; name: string; createdAt: Date }

/** An API key is stored only as its SHA-256; `_id` is that hash, so a lookup is by `_id`. */
export interface ApiKeyDocument { _id: string; keyId: string; workspaceId: string; createdAt: Date; revokedAt: Date | null }

export interface ApiKeyView { keyId: string; prefix: string; createdAt: string; revokedAt: string | null }

export const workspaceCollections: CollectionSpec[] = [
  { name: 'workspaces', indexes: [] },
  { name: 'api_keys', indexes: [{ name: 'by_workspace_key', key: { workspaceId: 1, keyId: 1 }, unique: true }] },
];

export function hashApiKey(apiKey: string): string {
  return createHash('sha256').update(apiKey, 'utf8').digest('hex');
}

/** `hub_<keyId>_<secret>`: the key id is the listable prefix, the rest is shown once. */
function newApiKey(): { keyId: string; apiKey: string } {
  const keyId = randomBytes(6).toString('hex');
  return { keyId, apiKey: `hub_${keyId}_${randomBytes(24).toString('base64url')}` };
}

export interface WorkspaceStore {
  create(name: string): Promise<{ workspace: Workspace; keyId: string; apiKey: string }>;
  get(workspaceId: string): Promise<Workspace | null>;
  list(): Promise<Workspace[]>;
  createKey(workspaceId: string): Promise<{ keyId: string; apiKey: string }>;
  listKeys(workspaceId: string): Promise<ApiKeyView[]>;
  /** False when the workspace has no such key. */
  revokeKey(workspaceId: string, keyId: string): Promise<boolean>;
  findKey(apiKey: string): Promise<ApiKeyDocument | null>;
}

export function createWorkspaceStore(db: Db): WorkspaceStore {
  const workspaces = db.collection<Workspace>('workspaces');
  const keys = db.collection<ApiKeyDocument>('api_keys');
  const guard = async <T>(what: string, f: () => Promise<T>): Promise<T> => {
    try { return await f(); } catch (err) { throw storeError(err, what); }
  };

  async function createKey(workspaceId: string) {
    for (;;) {
      const { keyId, apiKey } = newApiKey();
      try {
        await keys.insertOne({ _id: hashApiKey(apiKey), keyId, workspaceId, createdAt: new Date(), revokedAt: null });
        return { keyId, apiKey };
      } catch (err) {
        if (!isDuplicateKey(err)) throw storeError(err, 'creating an API key');
      }
    }
  }

  return {
    async create(name) {
      const workspace: Workspace = { _id: `ws_${randomBytes(8).toString('hex')}`, name, createdAt: new Date() };
      await guard('creating a workspace', () => workspaces.insertOne(workspace));
      return { workspace, ...(await createKey(workspace._id)) };
    },
    get: (id) => guard('reading a workspace', () => workspaces.findOne({ _id: id })),
    list: () => guard('listing workspaces', () => workspaces.find({}).sort({ createdAt: 1 }).limit(10_000).toArray()),
    createKey,
    async listKeys(workspaceId) {
      const docs = await guard('listing keys', () => keys.find({ workspaceId }).toArray());
      return docs
        .sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime())
        .map((k) => ({ keyId: k.keyId, prefix: `hub_${k.keyId}_`, createdAt: k.createdAt.toISOString(), revokedAt: k.revokedAt?.toISOString() ?? null }));
    },
    async revokeKey(workspaceId, keyId) {
      const doc = await guard('reading a key', () => keys.findOne({ workspaceId, keyId }));
      if (!doc) return false;
      if (!doc.revokedAt) await guard('revoking a key', () => keys.updateOne({ _id: doc._id }, { $set: { revokedAt: new Date() } }));
      return true;
    },
    findKey: (apiKey) => guard('checking an API key', () => keys.findOne({ _id: hashApiKey(apiKey) })),
  };
}
