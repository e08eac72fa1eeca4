/**
 * The email a workflow's email step asks the notifier to send (NotificationRequested's
 * `message`, as JSON): the contract between the step, which checks and shapes it, and
 * the notifier, which checks it again before sending.
 */
import { raise } from '../errors/index.ts';

/** The same test as the email step's schema (libs/workflow/steps/email.ts), applied after rendering. */
const EMAIL = /^[^\s@]{1,64}@[^\s@]+\.[^\s@]{2,}$/;

/** The message as the notifier receives it (NotificationRequested.message, JSON). */
export interface EmailMessage {
  to: string[];
  cc: string[];
  subject: string;
  text: string | null;
  html: string | null;
}


/**
 * Recipients after rendering: an address, or a list whose items are addresses or
 * lists of addresses (a whole template such as "{{trigger.emails}}" renders to one).
 */
function recipients(value: unknown, path: string, min: number, max: number): string[] {
  if (value === undefined || value === null) {
    if (min === 0) return [];
    throw raise('EMAIL_RECIPIENT_INVALID', 'no recipient: the template rendered to nothing', { path });
  }
  const out: string[] = [];
  const check = (v: unknown, at: string) => {
    if (typeof v !== 'string' || !EMAIL.test(v.trim())) {
      const shown = typeof v === 'string' ? `"${v.slice(0, 100)}"` : JSON.stringify(v)?.slice(0, 100) ?? String(v);
      throw raise('EMAIL_RECIPIENT_INVALID', `recipient ${shown} is not an email address`, { path: at });
    }
    out.push(v.trim());
  };
  if (!Array.isArray(value)) check(value, path);
  else value.forEach((item, i) => (Array.isArray(item) ? item.forEach((v, j) => check(v, `${path}/${i}/${j}`)) : check(item, `${path}/${i}`)));
  if (out.length < min || out.length > max) {
    throw raise('EMAIL_RECIPIENT_INVALID', `needs ${min} to ${max} recipients, got ${out.length}`, { path });
  }
  return out;
}

function content(value: unknown, path: string, required: boolean): string | null {
  if (value === undefined || value === null) {
    if (required) throw raise('EMAIL_CONTENT_INVALID', 'rendered to nothing', { path });
    return null;
  }
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value !== 'string') throw raise('EMAIL_CONTENT_INVALID', `must render to text, got ${Array.isArray(value) ? 'an array' : typeof value}`, { path });
  return value;
}

/** Checks the rendered input and shapes it as the notifier's message. */
export function emailMessage(input: unknown, maxRecipients: number): EmailMessage {
  const v = (typeof input === 'object' && input !== null ? input : {}) as Record<string, unknown>;
  const to = recipients(v.to, '/to', 1, maxRecipients);
  const cc = recipients(v.cc, '/cc', 0, maxRecipients);
  // A line break in a header is how headers get injected; a subject is one line.
  const subject = (content(v.subject, '/subject', true) as string).replace(/[\r\n]+/g, ' ').trim();
  if (subject.length === 0) throw raise('EMAIL_CONTENT_INVALID', 'the subject rendered empty', { path: '/subject' });
  const text = content(v.text, '/text', false);
  const html = content(v.html, '/html', false);
  if (text === null && html === null) throw raise('EMAIL_CONTENT_INVALID', 'text and html both rendered to nothing', { path: '/text' });
  return { to, cc, subject, text, html };
}

/**
 * Alerts of the ops service go through the notifier as notifications of the operator's
 * own pseudo-workspace (workspace ids are `ws_…`, so it names none): no run waits for
 * them, so the notifier records their delivery and publishes no step.result.
 */
export const OPERATOR_WORKSPACE = 'hub';
export const ALERTS_WORKFLOW = 'ops.alerts';

export function isOperatorAlert(n: { workspaceId: string; workflowId: string }): boolean {
  return n.workspaceId === OPERATOR_WORKSPACE && n.workflowId === ALERTS_WORKFLOW;
}
