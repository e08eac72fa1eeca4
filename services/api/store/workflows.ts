import { randomBytes } from 'node:crypto';
import type { Db } from 'mongodb';
import type { CollectionSpec } from '../../../libs/store/mongo.ts';
import { isDuplicateKey, storeError } from '../../../libs/store/errors.ts';
import { decodeFromStore, encodeForStore } from '../../../libs/store/encoding.ts';
import type { WorkflowDefinition } from '../../../libs/contracts/workflow.ts';

export type WorkflowStatus = 'draft' | 'active' | 'inactive';

/** Projection of a workflow's state records on hub.workflows. */
export interface WorkflowDocument {
  _id: string;
  workspaceId: string;
  name: string;
  status: WorkflowStatus;
  version: number;
  activeVersion: number | null;
  hookId: string | null;
  createdAt: Date;
  updatedAt: Date;
}

/** Projection of a version record; the webhook secret, sealed, stays here only. */
export interface WorkflowVersionDocument {
  _id: string;
  workflowId: string;
  workspaceId: string;
  version: number;
  definition: WorkflowDefinition;
  sealedSecret: string | null;
  createdAt: Date;
}

export const workflowCollections: CollectionSpec[] = [
  { name: 'workflows', indexes: [{ name: 'by_workspace', key: { workspaceId: 1, createdAt: 1 } }] },
  { name: 'workflow_versions', indexes: [{ name: 'by_workflow', key: { workflowId: 1, version: 1 }, unique: true }] },
];

export const newWorkflowId = () => `wf_${randomBytes(10).toString('hex')}`;
export const versionKey = (workflowId: string, version: number) => `${workflowId}#v${version}`;
export const isWorkflowId = (text: string) => /^wf_[0-9a-f]{20}$/.test(text);

export interface WorkflowStore {
  get(workflowId: string): Promise<WorkflowDocument | null>;
  list(workspaceId: string): Promise<WorkflowDocument[]>;
  versions(workflowId: string): Promise<WorkflowVersionDocument[]>;
  version(workflowId: string, version: number): Promise<WorkflowVersionDocument | null>;
  /** Claims version `n` of a workflow; false when another save took it first. */
  claimVersion(doc: WorkflowVersionDocument): Promise<boolean>;
  releaseVersion(workflowId: string, version: number): Promise<void>;
  putState(doc: WorkflowDocument): Promise<void>;
}

const readVersion = (d: WorkflowVersionDocument): WorkflowVersionDocument => ({ ...d, definition: decodeFromStore(d.definition) });

export function createWorkflowStore(db: Db): WorkflowStore {
  const workflows = db.collection<WorkflowDocument>('workflows');
  const versions = db.collection<WorkflowVersionDocument>('workflow_versions');
  const guard = async <T>(what: string, f: () => Promise<T>): Promise<T> => {
    try { return await f(); } catch (err) { throw storeError(err, what); }
  };
  return {
    get: (id) => guard('reading a workflow', () => workflows.findOne({ _id: id })),
    list: (ws) => guard('listing workflows', async () => (await workflows.find({ workspaceId: ws }).toArray()).sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime())),
    versions: (id) => guard('listing versions', async () => (await versions.find({ workflowId: id }).toArray()).map(readVersion).sort((a, b) => a.version - b.version)),
    version: (id, n) => guard('reading a version', async () => { const d = await versions.findOne({ _id: versionKey(id, n) }); return d ? readVersion(d) : null; }),
    async claimVersion(doc) {
      try {
        // Definitions may hold nested arrays (JSON Logic's "in" lists), which FerretDB cannot store as they are.
        await versions.insertOne({ ...doc, definition: encodeForStore(doc.definition) });
        return true;
      } catch (err) {
        if (isDuplicateKey(err)) return false;
        throw storeError(err, 'saving a version');
      }
    },
    releaseVersion: async (id, n) => { await guard('releasing a version', () => versions.deleteOne({ _id: versionKey(id, n) })); },
    putState: async (doc) => { await guard('saving a workflow', () => workflows.replaceOne({ _id: doc._id }, doc, { upsert: true })); },
  };
}
