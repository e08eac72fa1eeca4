/**
 * The `runs` projection: one document per workflow run. Only the executor that owns
 * the run's workspace writes it (one writer per document, which FerretDB needs);
 * the API reads it. User data (trigger, step inputs and outputs, the definition) is
 * kept as JSON text: any key a remote system sends ("$ref", "a.b") is stored as is.
 */
import type { Collection, Db } from 'mongodb';
import type { CollectionSpec } from './mongo.ts';
import { isDuplicateKey, storeError } from './errors.ts';
import type { RunError, RunRequest, RunStatus, StepRecord, TriggerType } from '../contracts/run.ts';
import type { WorkflowDefinition } from '../contracts/workflow.ts';

interface StoredStep extends Omit<StepRecord, 'input' | 'output'> { input: string; output: string }

export interface Run {
  runId: string;
  workspaceId: string;
  workflowId: string;
  version: number;
  status: RunStatus;
  triggerType: TriggerType;
  triggerEventId: string;
  trigger: unknown;
  definition: WorkflowDefinition;
  correlationId: string;
  causationId: string | null;
  depth: number;
  steps: Record<string, StepRecord>;
  error: RunError | null;
  /** 1, then +1 per retry. */
  attempt: number;
  queuedAt: Date;
  startedAt: Date | null;
  endedAt: Date | null;
  updatedAt: Date;
}

/** A run as stored: user data as JSON text, keyed by `_id`. */
type StoredRun = Omit<Run, 'runId' | 'trigger' | 'definition' | 'steps'> & { _id: string; trigger: string; definition: string; steps: Record<string, StoredStep> };

/** A new run as its request describes it: queued, nothing done yet. */
export function runFromRequest(r: RunRequest, now: Date): Run {
  return {
    runId: r.runId, workspaceId: r.workspaceId, workflowId: r.workflowId, version: r.version, status: 'queued',
    triggerType: r.triggerType, triggerEventId: r.triggerEventId, trigger: r.trigger, definition: r.definition,
    correlationId: r.correlationId, causationId: r.causationId, depth: r.depth, steps: {}, error: null, attempt: 1,
    queuedAt: new Date(r.requestedAt), startedAt: null, endedAt: null, updatedAt: now,
  };
}

export interface RunStore {
  /** False when the run already exists. */
  insert(run: Run): Promise<boolean>;
  /** Removes a run that was never requested after all (its request could not be published). */
  remove(runId: string): Promise<void>;
  get(runId: string): Promise<Run | null>;
  getMany(runIds: readonly string[]): Promise<Map<string, Run>>;
  /** Writes the whole run (insert or replace): the executor's write-behind projection. */
  put(run: Run): Promise<void>;
  /** Newest first, in (queuedAt, runId) order, which is unique: `after` is the last run of the previous page. */
  list(workspaceId: string, workflowId: string, options: { status?: RunStatus; limit: number; after?: { queuedAt: Date; runId: string } }): Promise<Run[]>;
}

export const runsCollection: CollectionSpec = {
  name: 'runs',
  indexes: [{ name: 'by_workflow', key: { workspaceId: 1, workflowId: 1, queuedAt: -1 } }],
};

const storeStep = (s: StepRecord): StoredStep => ({ ...s, input: JSON.stringify(s.input ?? null), output: JSON.stringify(s.output ?? null) });
const readStep = (s: StoredStep): StepRecord => ({ ...s, input: JSON.parse(s.input) as unknown, output: JSON.parse(s.output) as unknown });

function toStored(r: Run): StoredRun {
  const { runId, trigger, definition, steps, ...rest } = r;
  return {
    ...rest, _id: runId, trigger: JSON.stringify(trigger ?? null), definition: JSON.stringify(definition),
    steps: Object.fromEntries(Object.entries(steps).map(([k, s]) => [k, storeStep(s)])),
  };
}

function fromStored(d: StoredRun): Run {
  const { _id, trigger, definition, steps, ...rest } = d;
  return {
    ...rest, runId: _id, trigger: JSON.parse(trigger) as unknown, definition: JSON.parse(definition) as WorkflowDefinition,
    steps: Object.fromEntries(Object.entries(steps ?? {}).map(([k, s]) => [k, readStep(s)])),
  };
}

export function createRunStore(db: Db): RunStore {
  const runs: Collection<StoredRun> = db.collection<StoredRun>(runsCollection.name);
  const guard = async <T>(what: string, f: () => Promise<T>): Promise<T> => {
    try { return await f(); } catch (err) { throw storeError(err, what); }
  };
  return {
    async insert(run) {
      try {
        await runs.insertOne(toStored(run));
        return true;
      } catch (err) {
        if (isDuplicateKey(err)) return false;
        throw storeError(err, `recording run ${run.runId}`);
      }
    },
    remove: async (runId) => { await guard('removing a run', () => runs.deleteOne({ _id: runId, status: 'queued', startedAt: null })); },
    get: (runId) => guard('reading a run', async () => {
      const d = await runs.findOne({ _id: runId });
      return d ? fromStored(d) : null;
    }),
    getMany: (runIds) => guard('reading runs', async () => {
      // One lookup by _id each: FerretDB serves those by index, but not an $in.
      const docs = await Promise.all([...new Set(runIds)].map((id) => runs.findOne({ _id: id })));
      return new Map(docs.filter((doc) => doc !== null).map((doc) => [doc._id, fromStored(doc)]));
    }),
    put: (run) => guard(`recording run ${run.runId}`, async () => {
      const { _id, ...rest } = toStored({ ...run, updatedAt: new Date() });
      await runs.replaceOne({ _id }, rest, { upsert: true });
    }),
    list: (workspaceId, workflowId, { status, limit, after }) => guard('listing runs', async () => {
      const filter: Record<string, unknown> = { workspaceId, workflowId };
      if (status) filter.status = status;
      // Runs queued at the same instant (a bulk start) are told apart by id: none is skipped.
      if (after) filter.$or = [{ queuedAt: { $lt: after.queuedAt } }, { queuedAt: after.queuedAt, _id: { $lt: after.runId } }];
      const docs = await runs.find(filter).sort({ queuedAt: -1, _id: -1 }).limit(limit).toArray();
      return docs.map(fromStored);
    }),
  };
}
