import { randomUUID } from 'node:crypto';
import { isPlainObject } from '../../libs/json/index.ts';
import { ApiError, type Reply } from './base.ts';

/** HubSpot's error body, shared by the external CRM's object and association endpoints. */
export function hubspotError(status: number, category: string, message: string, extra: Record<string, unknown> = {}): Reply {
  return { status, body: { status: 'error', message, correlationId: randomUUID(), category, ...extra } };
}

/** A batch request's `inputs`, at most `max` of them (HubSpot: 100 objects, 1000 associations). */
export function batchInputs(body: unknown, max: number): unknown[] {
  if (!isPlainObject(body) || !Array.isArray(body.inputs)) throw new ApiError(hubspotError(400, 'VALIDATION_ERROR', 'Invalid input JSON: "inputs" must be an array'));
  if (body.inputs.length > max) throw new ApiError(hubspotError(400, 'VALIDATION_ERROR', `Batch input limit exceeded: ${body.inputs.length} inputs, at most ${max}`));
  return body.inputs;
}

/** A batch answer: any per-input error turns `status` into 207 Multi-Status. */
export function batchReply(status: number, results: unknown[], started: string, errors: unknown[] = []): Reply {
  return {
    status: errors.length > 0 ? 207 : status,
    body: { status: 'COMPLETE', results, ...(errors.length > 0 ? { numErrors: errors.length, errors } : {}), startedAt: started, completedAt: new Date().toISOString() },
  };
}
