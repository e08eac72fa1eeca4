import { sendWebhook, type SendOptions, type WebhookDelivery } from './base.ts';

/**
 * A web form tool that posts submissions to a webhook URL (use case 1). Not a server: the
 * "external system" here is the client. Two real-world shapes:
 * - `json` (default): a form builder's JSON webhook with the fields at the top level, as
 *   Formspree / Basin / Webflow-style "send submissions to a webhook" integrations post;
 * - `form`: `application/x-www-form-urlencoded`, exactly what a browser sends for an HTML
 *   `<form method="post" action="…">` (repeated names for multi-selects / checkboxes).
 * With `method: 'GET'` the fields go in the query string, as an HTML `<form method="get">`.
 *
 * Given a Standard Webhooks secret (`whsec_<base64>`), each request carries `webhook-id`,
 * `webhook-timestamp` and `webhook-signature` = `v1,` + base64(HMAC-SHA256(key,
 * `${id}.${timestamp}.${body}`)), the key being the base64-decoded part after `whsec_`.
 * Retries (on 429, 5xx, network errors) keep the same webhook-id, as senders must.
 */

export type FormValue = string | number | boolean | null | readonly (string | number | boolean)[];
export type FormFields = Record<string, FormValue>;

/** What a sender sets (signing, retries, timeout) as sendWebhook takes it, plus how the form is encoded. */
export interface PostFormOptions extends Pick<SendOptions, 'secret' | 'webhookId' | 'timestampSeconds' | 'headers' | 'retries' | 'retryDelayMs' | 'timeoutMs'> {
  encoding?: 'json' | 'form';
  method?: 'POST' | 'GET';
}

/** The body as the form tool would send it, exactly the bytes that get signed. */
export function encodeForm(fields: FormFields, encoding: 'json' | 'form'): string {
  if (encoding === 'json') return JSON.stringify(fields);
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(fields)) {
    if (value === null) params.append(name, '');
    else if (Array.isArray(value)) for (const v of value as readonly (string | number | boolean)[]) params.append(name, String(v));
    else params.append(name, String(value));
  }
  return params.toString();
}

/** POSTs (or GETs) one form submission to `url` and returns the receiver's answer. */
export function postForm(url: string, fields: FormFields, options: PostFormOptions = {}): Promise<WebhookDelivery> {
  const { encoding: asked, method = 'POST', headers, ...sending } = options;
  const encoding = method === 'GET' ? 'form' : asked ?? 'json';
  return sendWebhook(url, encodeForm(fields, encoding), {
    ...sending,
    method,
    contentType: encoding === 'json' ? 'application/json' : 'application/x-www-form-urlencoded',
    headers: { 'user-agent': 'FormTool-Webhooks/2.1 (+https://forms.example/webhooks)', ...headers },
  });
}

/** A form tool configured once (URL, secret, encoding), posting many submissions. */
export interface WebFormPoster {
  readonly url: string;
  submit(fields: FormFields, overrides?: PostFormOptions): Promise<WebhookDelivery>;
  /** Every delivery made, in order. */
  readonly deliveries: { fields: FormFields; result: WebhookDelivery }[];
}

export function createWebFormPoster(url: string, defaults: PostFormOptions = {}): WebFormPoster {
  const deliveries: { fields: FormFields; result: WebhookDelivery }[] = [];
  return {
    url,
    deliveries,
    async submit(fields, overrides = {}) {
      const result = await postForm(url, fields, { ...defaults, ...overrides });
      deliveries.push({ fields, result });
      return result;
    },
  };
}
