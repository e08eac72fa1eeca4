/**
 * A definition's trigger: its JSON Schema (a `oneOf` discriminated by `type`) and what
 * comes after it: rules (libs/rules), cron expressions and time zones (cron.ts), the
 * webhook's hook definition (the hook API's own parser, so a workflow's webhook accepts
 * exactly what a hook does), and defaults filled in.
 */
import { HubError } from '../errors/index.ts';
import { expectedBodySchema, parseHookDefinition } from '../contracts/hook-body.ts';
import type { RecordTriggerType, Trigger } from '../contracts/workflow.ts';
import { canonicalTimeZone, parseCron } from './cron.ts';
import { checkRule, fail } from './checks.ts';
import type { JsonSchema } from '../schema/compile.ts';
import { objectNameSchema, ruleSchema } from './step-spec.ts';

const RECORD_TRIGGERS = ['record.created', 'record.updated', 'record.deleted'] as const;

const branch = (type: JsonSchema, description: string, properties: JsonSchema, required: string[]): JsonSchema => ({
  type: 'object', description, additionalProperties: false, required: ['type', ...required], properties: { type, ...properties },
});

export function triggerSchema(): JsonSchema {
  return {
    description: 'What starts a run',
    type: 'object',
    discriminator: { propertyName: 'type' },
    oneOf: [
      branch({ enum: [...RECORD_TRIGGERS] }, 'A change of a record of `object`', {
        object: objectNameSchema,
        filter: ruleSchema('JSON Logic over {record, before}; the trigger fires when it is truthy'),
        fields: {
          type: 'array', minItems: 1, maxItems: 100, uniqueItems: true,
          description: 'record.updated only: fire only when one of these fields changed',
          items: { type: 'string', minLength: 1, maxLength: 200, 'x-message': 'field names must be strings of 1 to 200 characters' },
          'x-message': { default: 'fields must be an array of 1 to 100 field names', uniqueItems: 'field {value} is listed twice' },
        },
      }, ['object']),
      branch({ const: 'webhook' }, 'A delivery to the hook created on activation; its body is the run\'s trigger.body', {
        methods: { type: 'array', minItems: 1, maxItems: 2, items: { type: 'string', 'x-message': 'each method must be POST or GET' }, default: ['POST'], 'x-message': 'methods must be ["POST"], ["GET"] or both' },
        expectedBody: expectedBodySchema,
        secret: { type: ['string', 'null'], minLength: 16, maxLength: 200, description: 'Standard Webhooks signing secret', 'x-message': 'secret must be a string of 16 to 200 characters (e.g. whsec_<base64>)' },
      }, []),
      branch({ const: 'schedule' }, 'A cron schedule; after downtime the most recent missed tick fires once', {
        cron: { type: 'string', description: 'Five fields or a shorthand: @daily, @weekly…' },
        timezone: { type: 'string', default: 'UTC', 'x-message': 'timezone must be an IANA name such as Europe/Paris or America/New_York' },
      }, ['cron']),
      branch({ const: 'manual' }, 'Started with POST /v1/workflows/:id/runs', {
        availability: { enum: ['single', 'bulk', 'global'], 'x-message': 'availability must be "single" (one record), "bulk" (a selection) or "global" (no record)' },
        object: { ...objectNameSchema, description: 'Required for single and bulk' },
      }, ['availability']),
    ],
    'x-message': { default: 'trigger must be an object with a type', discriminator: 'trigger type must be one of {known}' },
  };
}

/** The trigger of a definition that matches the schema, checked and normalised. */
export function checkTrigger(value: Record<string, unknown>): Trigger {
  const at = '/trigger';
  const v = value as Record<string, unknown> & { type: Trigger['type'] };
  switch (v.type) {
    case 'webhook': {
      const { type, ...hook } = v;
      try {
        const def = parseHookDefinition({ name: 'workflow', ...hook });
        return { type, methods: def.methods, expectedBody: def.expectedBody, secret: def.secret };
      } catch (err) {
        if (err instanceof HubError) fail(`${at}${err.path ?? ''}`, err.message);
        throw err;
      }
    }
    case 'schedule': {
      const cron = v.cron as string;
      try {
        parseCron(cron);
      } catch (err) {
        if (err instanceof HubError) fail(`${at}/cron`, err.message);
        throw err;
      }
      let timezone = 'UTC';
      if (v.timezone !== undefined) {
        const zone = canonicalTimeZone(v.timezone as string);
        if (!zone) fail(`${at}/timezone`, `timezone must be an IANA name such as Europe/Paris or America/New_York, got ${JSON.stringify(v.timezone)}`);
        timezone = zone;
      }
      return { type: v.type, cron: cron.trim(), timezone };
    }
    case 'manual': {
      const availability = v.availability as 'single' | 'bulk' | 'global';
      if (v.object === undefined && availability !== 'global') fail(`${at}/object`, `object is required for ${availability} availability`);
      return { type: v.type, availability, ...(v.object === undefined ? {} : { object: v.object as string }) };
    }
    default: {
      const type = v.type as RecordTriggerType;
      if (v.filter !== undefined) checkRule(v.filter, `${at}/filter`, ['record', 'before'], () => {});
      if (v.fields !== undefined && type !== 'record.updated') fail(`${at}/fields`, 'fields applies to record.updated only');
      return {
        type, object: v.object as string,
        ...(v.filter === undefined ? {} : { filter: v.filter }),
        ...(v.fields === undefined ? {} : { fields: v.fields as string[] }),
      };
    }
  }
}
