/**
 * Every step handler the hub has, built from what they need. The action executor
 * runs them for real; the ingress runs them for dry runs (where effects are shown,
 * not performed: each handler honours `ctx.dryRun`).
 */
import type { StepHandler } from '../interpreter.ts';
import type { RecordChanged, NotificationRequested } from '../../kafka/events.ts';
import type { RecordReader } from '../../store/records.ts';
import type { HttpClient } from '../../http/index.ts';
import type { CodeLimits, CodeRunner } from '../../sandbox/code-runner.ts';
import { createRecordStepHandlers } from './records.ts';
import { createHttpStepHandler, type CredentialResolver } from './http.ts';
import { createCodeStepHandler } from './code.ts';
import { createEmailStepHandler } from './email.ts';

export interface StepHandlerDeps {
  records: RecordReader;
  publishRecords(events: RecordChanged[]): Promise<void>;
  publishNotification(n: NotificationRequested): Promise<void>;
  http: HttpClient;
  credentials: CredentialResolver;
  code: CodeRunner;
  codeLimits?: Partial<CodeLimits>;
  maxDepth: number;
  searchScanMax: number;
  emailDeliveryTimeoutMs: number;
}

export function createStepHandlers(d: StepHandlerDeps): Map<string, StepHandler> {
  return new Map<string, StepHandler>([
    ...createRecordStepHandlers({ reader: d.records, publish: d.publishRecords, maxDepth: d.maxDepth, searchScanMax: d.searchScanMax }),
    ['http', createHttpStepHandler({ client: d.http, credentials: d.credentials })],
    ['code', createCodeStepHandler({ runner: d.code, ...(d.codeLimits ? { limits: d.codeLimits } : {}) })],
    ['email', createEmailStepHandler({ publish: d.publishNotification, deliveryTimeoutMs: d.emailDeliveryTimeoutMs })],
  ]);
}
