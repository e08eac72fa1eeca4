/**
 * The definition of a workflow as `POST /v1/workflows` accepts it, after
 * `parseWorkflowDefinition` (validate.ts) checked and normalised it: defaults filled
 * in, frozen. Plain JSON, so it is stored as is.
 *
 * Data a run sees (what templates and rules read):
 * - `trigger`: record triggers `{type, object, recordId, record, before, updatedFields, version, eventId, occurredAt}`;
 *   webhook `{body, query, method}`; schedule `{scheduledAt}`; manual `{object?, record?, records?}`.
 * - `steps.<id>`: the output of an earlier step (record.search `{records, count}`,
 *   record.create/update `{record}`, record.delete `{recordId}`, branch `{branch}`,
 *   iterator `{count}`, code `{result}`, http `{status, headers, body}`, email `{messageId}`).
 *   Steps inside the branches a branch step did not take read as null.
 * - `item`, `index`: the current item and its position, inside an iterator.
 */
import type { ExpectedBody } from './hook-body.ts';
import type { Rule } from '../rules/index.ts';

export type RecordTriggerType = 'record.created' | 'record.updated' | 'record.deleted';

export interface RecordTrigger {
  type: RecordTriggerType;
  object: string;
  /** JSON Logic over `{record, before}`; the trigger fires when it is truthy. */
  filter?: Rule;
  /** record.updated only: fire only when one of these fields changed. */
  fields?: string[];
}

export interface WebhookTrigger {
  type: 'webhook';
  methods: ('POST' | 'GET')[];
  expectedBody: ExpectedBody;
  /** Standard Webhooks signing secret; sealed by the service that stores the workflow. */
  secret: string | null;
}

export interface ScheduleTrigger {
  type: 'schedule';
  /** As written: five fields or a shorthand (@daily, weekly…). */
  cron: string;
  /** Canonical IANA name; UTC by default. */
  timezone: string;
}

export interface ManualTrigger {
  type: 'manual';
  /** single: one record; bulk: a selection of records; global: no record. */
  availability: 'single' | 'bulk' | 'global';
  /** Required for single and bulk. */
  object?: string;
}

export type Trigger = RecordTrigger | WebhookTrigger | ScheduleTrigger | ManualTrigger;
export type TriggerType = Trigger['type'];

/** Values inside step inputs may be templates (template.ts), except where noted. */
export type Templated = unknown;

export interface SortKey { field: string; direction: 'asc' | 'desc' }

export interface RecordSearchInput {
  object: string;
  /** JSON Logic over `{record, trigger, steps, item, index}`; not templated (read values with var). */
  filter?: Rule;
  sort: SortKey[];
  limit: number;
}
export interface RecordCreateInput { object: string; values: Record<string, Templated> }
export interface RecordUpdateInput { object: string; recordId: Templated; values: Record<string, Templated> }
export interface RecordDeleteInput { object: string; recordId: Templated }

export interface BranchInput {
  /** The first branch whose `if` (JSON Logic over `{trigger, steps, item, index}`) holds runs; else `else`. */
  branches: { if: Rule; steps: Step[] }[];
  else: Step[];
}

export interface IteratorInput {
  /** A whole-value template (`{{steps.find.records}}`) or a literal array. */
  items: Templated;
  steps: Step[];
  /** More items than this fail the run (not truncated silently). */
  maxItems: number;
}

export interface CodeInput {
  /** JavaScript, run in an isolate; never templated: data comes in through `input`. */
  source: string;
  input: Record<string, Templated>;
}

export interface HttpInput {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'HEAD';
  url: Templated;
  headers: Record<string, Templated>;
  query: Record<string, Templated>;
  body?: Templated;
  /** A stored credential's id: secrets never appear in workflow text. */
  auth?: { credential: string };
  timeoutMs: number;
  retry: { maxAttempts: number; backoffMs: number };
  /** Error statuses (400-599) that complete the step with their answer instead of failing it. */
  accept?: number[];
}

export interface EmailInput {
  to: Templated[];
  cc?: Templated[];
  subject: Templated;
  text?: Templated;
  html?: Templated;
}

export interface ChatInput {
  /** A stored credential of type chat (its webhook URL is the secret). */
  credential: string;
  text: Templated;
  /** Slack Block Kit blocks, passed as given (after templating). */
  blocks?: Templated;
}

interface StepOf<T extends string, I> { id: string; type: T; input: I }

export type RecordSearchStep = StepOf<'record.search', RecordSearchInput>;
export type RecordCreateStep = StepOf<'record.create', RecordCreateInput>;
export type RecordUpdateStep = StepOf<'record.update', RecordUpdateInput>;
export type RecordDeleteStep = StepOf<'record.delete', RecordDeleteInput>;
export type BranchStep = StepOf<'branch', BranchInput>;
export type IteratorStep = StepOf<'iterator', IteratorInput>;
export type CodeStep = StepOf<'code', CodeInput>;
export type HttpStep = StepOf<'http', HttpInput>;
export type EmailStep = StepOf<'email', EmailInput>;
export type ChatStep = StepOf<'chat', ChatInput>;

export type Step =
  | RecordSearchStep | RecordCreateStep | RecordUpdateStep | RecordDeleteStep
  | BranchStep | IteratorStep | CodeStep | HttpStep | EmailStep | ChatStep;
export type StepType = Step['type'];

export interface WorkflowDefinition {
  name: string;
  trigger: Trigger;
  steps: Step[];
}
