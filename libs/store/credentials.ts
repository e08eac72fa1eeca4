/**
 * Stored credentials: what a workflow's http step (`auth.credential`) or the notifier
 * (smtp, chat webhooks) authenticates with, so secrets never appear in workflow text. A document keeps
 * the non-secret fields in clear (`metadata`) and the secret ones sealed together with
 * SecretBox, bound to `credential:<workspaceId>:<name>`: a sealed value copied onto
 * another credential or workspace does not open. Secrets leave the store only through
 * `resolve`, as `Secret` values.
 */
import type { Db } from 'mongodb';
import type { CollectionSpec } from './mongo.ts';
import { isDuplicateKey, storeError } from './errors.ts';
import { Secret, type Sealed, type SecretBox } from '../secrets/crypto.ts';

export const credentialTypes = ['bearer', 'basic', 'header', 'smtp', 'webhook-secret', 'chat'] as const;
export type CredentialType = (typeof credentialTypes)[number];

/** A credential's material; the same shape goes in (create, replace) and comes out (resolve). */
export type CredentialMaterial =
  | { type: 'bearer'; token: Secret }
  | { type: 'basic'; username: string; password: Secret }
  /** One header, e.g. `X-Api-Key: <value>` or `Authorization: Token <value>`. */
  | { type: 'header'; header: string; value: Secret }
  /** Without username and password the server is used unauthenticated. */
  | { type: 'smtp'; host: string; port: number; secure: boolean; username?: string; password?: Secret; from?: string }
  /** The secret an app signs its webhooks with (HubSpot's client secret, Stripe's endpoint secret): data sync. */
  | { type: 'webhook-secret'; secret: Secret }
  /** A Slack-compatible incoming webhook: its URL carries the token, so all of it is secret; the host is shown. */
  | { type: 'chat'; host: string; webhookUrl: Secret };

export type ResolvedCredential = CredentialMaterial & { name: string };

/** What the API shows: never a secret, not even sealed. */
export interface CredentialView {
  name: string;
  type: CredentialType;
  /** The non-secret fields of the type (username, header, host…). */
  [field: string]: unknown;
  /** The encryption key that sealed the secret (which credentials to re-save after a key rotation). */
  keyId: string;
  createdAt: string;
  updatedAt: string;
}

export interface CredentialDocument {
  _id: string;
  workspaceId: string;
  name: string;
  type: CredentialType;
  metadata: Record<string, string | number | boolean>;
  /** JSON object of the secret fields, sealed. */
  sealed: Sealed;
  keyId: string;
  createdAt: Date;
  updatedAt: Date;
}

export const credentialsCollection: CollectionSpec = {
  name: 'credentials',
  indexes: [{ name: 'by_workspace_name', key: { workspaceId: 1, name: 1 }, unique: true }],
};

export interface CredentialStore {
  /** Null when the workspace already has a credential of that name. */
  create(workspaceId: string, name: string, material: CredentialMaterial): Promise<CredentialView | null>;
  /** Replaces type, fields and secret (rotation); null when there is no such credential. */
  replace(workspaceId: string, name: string, material: CredentialMaterial): Promise<CredentialView | null>;
  get(workspaceId: string, name: string): Promise<CredentialView | null>;
  list(workspaceId: string): Promise<CredentialView[]>;
  /** False when there was no such credential. */
  remove(workspaceId: string, name: string): Promise<boolean>;
  /** The decrypted material for a step or the notifier, or null when unknown. */
  resolve(workspaceId: string, name: string): Promise<ResolvedCredential | null>;
}

export const credentialOwner = (workspaceId: string, name: string): string => `credential:${workspaceId}:${name}`;

/** Splits material into clear metadata and the secret fields (the `Secret` values). */
function split(material: CredentialMaterial): { metadata: Record<string, string | number | boolean>; secrets: Record<string, string> } {
  const metadata: Record<string, string | number | boolean> = {};
  const secrets: Record<string, string> = {};
  for (const [key, value] of Object.entries(material)) {
    if (key === 'type' || value === undefined) continue;
    if (value instanceof Secret) secrets[key] = value.reveal();
    else metadata[key] = value as string | number | boolean;
  }
  return { metadata, secrets };
}

function view(doc: CredentialDocument): CredentialView {
  return {
    ...doc.metadata, name: doc.name, type: doc.type, keyId: doc.keyId,
    createdAt: doc.createdAt.toISOString(), updatedAt: doc.updatedAt.toISOString(),
  };
}

export function createCredentialStore(db: Db, box: SecretBox, now: () => number = Date.now): CredentialStore {
  const credentials = db.collection<CredentialDocument>('credentials');
  const guard = async <T>(what: string, f: () => Promise<T>): Promise<T> => {
    try { return await f(); } catch (err) { throw storeError(err, what); }
  };
  const seal = (workspaceId: string, name: string, material: CredentialMaterial) => {
    const { metadata, secrets } = split(material);
    const sealed = box.seal(JSON.stringify(secrets), credentialOwner(workspaceId, name));
    return { type: material.type, metadata, sealed, keyId: sealed.split('.')[0]! };
  };

  return {
    async create(workspaceId, name, material) {
      const at = new Date(now());
      // The id is the pair itself: a second create of one name collides on _id as on the index.
      const doc: CredentialDocument = { _id: `${workspaceId}:${name}`, workspaceId, name, ...seal(workspaceId, name, material), createdAt: at, updatedAt: at };
      try {
        await credentials.insertOne(doc);
      } catch (err) {
        if (isDuplicateKey(err)) return null;
        throw storeError(err, 'creating a credential');
      }
      return view(doc);
    },
    async replace(workspaceId, name, material) {
      const set = { ...seal(workspaceId, name, material), updatedAt: new Date(now()) };
      const doc = await guard('replacing a credential', () => credentials.findOneAndUpdate({ workspaceId, name }, { $set: set }, { returnDocument: 'after' }));
      return doc ? view(doc) : null;
    },
    async get(workspaceId, name) {
      const doc = await guard('reading a credential', () => credentials.findOne({ workspaceId, name }));
      return doc ? view(doc) : null;
    },
    async list(workspaceId) {
      const docs = await guard('listing credentials', () => credentials.find({ workspaceId }).toArray());
      return docs.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).map(view);
    },
    async remove(workspaceId, name) {
      const res = await guard('deleting a credential', () => credentials.deleteOne({ workspaceId, name }));
      return res.deletedCount > 0;
    },
    async resolve(workspaceId, name) {
      const doc = await guard('reading a credential', () => credentials.findOne({ workspaceId, name }));
      if (!doc) return null;
      const secrets = JSON.parse(box.open(doc.sealed, credentialOwner(workspaceId, name)).reveal()) as Record<string, string>;
      const material: Record<string, unknown> = { ...doc.metadata };
      for (const [key, value] of Object.entries(secrets)) material[key] = new Secret(value);
      return { ...material, type: doc.type, name: doc.name } as ResolvedCredential;
    },
  };
}
