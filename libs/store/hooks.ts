import { randomBytes } from 'node:crypto';
import type { Db } from 'mongodb';
import type { CollectionSpec } from './mongo.ts';
import { storeError } from './errors.ts';
import type { Sealed } from '../secrets/crypto.ts';
import type { ExpectedBody } from '../contracts/hook-body.ts';

export type { ExpectedBody };

export interface HookSecret { id: string; sealed: Sealed; createdAt: Date; expiresAt: Date | null }

export interface HookDocument {
  _id: string;
  workspaceId: string;
  name: string;
  methods: ('POST' | 'GET')[];
  expectedBody: ExpectedBody;
  secrets: HookSecret[];
  status: 'active' | 'disabled';
  workflowId: string | null;
  createdAt: Date;
  updatedAt: Date;
}

export const hookCollections: CollectionSpec[] = [
  { name: 'hooks', indexes: [{ name: 'by_workspace', key: { workspaceId: 1, createdAt: 1 } }] },
];

export function newHookId(): string {
  return `hk_${randomBytes(12).toString('base64url')}`;
}

/** Only ids of our own shape reach the store (a NUL byte in a URL would otherwise reach SQL). */
export function isHookId(text: string): boolean {
  return /^hk_[A-Za-z0-9_-]{16}$/.test(text);
}

/** Hooks belong to one workspace; every read by a workspace filters on it. */
export interface HookStore {
  insert(hook: HookDocument): Promise<void>;
  get(hookId: string): Promise<HookDocument | null>;
  list(workspaceId: string): Promise<HookDocument[]>;
  update(hookId: string, set: Partial<Pick<HookDocument, 'status' | 'secrets' | 'name' | 'methods' | 'expectedBody'>>): Promise<void>;
  remove(hookId: string): Promise<void>;
}

export function createHookStore(db: Db): HookStore {
  const hooks = db.collection<HookDocument>('hooks');
  const guard = async <T>(what: string, f: () => Promise<T>): Promise<T> => {
    try { return await f(); } catch (err) { throw storeError(err, what); }
  };
  return {
    insert: async (hook) => { await guard('creating a hook', () => hooks.insertOne(hook)); },
    get: (hookId) => guard('reading a hook', () => hooks.findOne({ _id: hookId })),
    list: (workspaceId) => guard('listing hooks', async () => (await hooks.find({ workspaceId }).toArray()).sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime())),
    update: async (hookId, set) => { await guard('updating a hook', () => hooks.updateOne({ _id: hookId }, { $set: { ...set, updatedAt: new Date() } })); },
    remove: async (hookId) => { await guard('deleting a hook', () => hooks.deleteOne({ _id: hookId })); },
  };
}
