/**
 * Local emulators of the external systems the ten integration use cases call, for the
 * end-to-end tests. Each HTTP emulator listens on 127.0.0.1 on an ephemeral port, checks
 * auth like the real API, keeps state in memory, records every request (`received`) and
 * can be told to fail (`failNext`). See each file for the API it mimics and its routes.
 *
 *   use case                        emulator                          mimics
 *   1  web form submission          postForm / createWebFormPoster    a form tool's webhook (JSON or urlencoded, Standard Webhooks signed)
 *   2  product data sync            startWarehouseEmulator            Google BigQuery REST v2 (tabledata.list, jobs.query)
 *   3  meeting notes                startCallRecorderEmulator         Gong API v2 (calls, transcript, extensive) + its webhook
 *   4  data enrichment              startEnrichmentEmulator           Clearbit Enrichment v2
 *   5  newsletter subscribers       startEmailMarketingEmulator       Mailchimp Marketing API 3.0
 *   6  email sequences              startSequencesEmulator            Outreach API v2 (prospects, sequenceStates)
 *   7  lead scoring                 startScoringEmulator              MadKudu API v1
 *   8  invoice generation           startBillingEmulator              Stripe v1 (customers, invoice items, invoices, Idempotency-Key)
 *   9  two-way sync                 startExternalCrmEmulator          HubSpot CRM v3 objects (+ webhook subscriptions)
 *   *  email steps / notifier       startSmtpCapture                  an SMTP server (smtp-server + mailparser)
 */

export {
  ApiError, parseBody, parseForm, sendWebhook, standardWebhookSignature,
  type CommonOptions, type Emulator, type EmulatorFailure, type ReceivedRequest, type Reply, type SendOptions, type WebhookDelivery,
} from './base.ts';
export { createWebFormPoster, encodeForm, postForm, type FormFields, type PostFormOptions, type WebFormPoster } from './web-form.ts';
export { sampleUsage, startWarehouseEmulator, USAGE_SCHEMA, type UsageRow, type WarehouseEmulator, type WarehouseOptions } from './warehouse.ts';
export { sampleCall, sampleCalls, startCallRecorderEmulator, type CallRecorderEmulator, type CallRecorderOptions, type RecordedCall } from './call-recorder.ts';
export { startEnrichmentEmulator, synthesiseCompany, synthesisePerson, type EnrichmentEmulator, type EnrichmentOptions } from './enrichment.ts';
export { startEmailMarketingEmulator, type EmailMarketingEmulator, type EmailMarketingOptions, type ListMember } from './email-marketing.ts';
export { DEFAULT_SEQUENCES, startSequencesEmulator, type SequencesEmulator, type SequencesOptions } from './sequences.ts';
export { scoreBehaviour, scoreFit, segmentOf, startScoringEmulator, type ScoringEmulator, type ScoringOptions } from './scoring.ts';
export { startBillingEmulator, type BillingEmulator, type BillingOptions, type Customer, type Invoice, type InvoiceItem, type Product } from './billing.ts';
export { stripeSignature, type StripeEvent, type StripeWebhookOptions } from './billing-events.ts';
export { startExternalCrmEmulator, type CrmObject, type ExternalCrmEmulator, type ExternalCrmOptions, type ObjectType, type WebhookEvent } from './external-crm.ts';
export { startSmtpCapture, type CapturedMessage, type SmtpCapture, type SmtpCaptureOptions, type SmtpFailure } from '../../stack/smtp/catcher.ts';

import { startBillingEmulator } from './billing.ts';
import { startCallRecorderEmulator } from './call-recorder.ts';
import { startEmailMarketingEmulator } from './email-marketing.ts';
import { startEnrichmentEmulator } from './enrichment.ts';
import { startExternalCrmEmulator } from './external-crm.ts';
import { startScoringEmulator } from './scoring.ts';
import { startSequencesEmulator } from './sequences.ts';
import { startSmtpCapture } from '../../stack/smtp/catcher.ts';
import { startWarehouseEmulator } from './warehouse.ts';

/** Every emulator at once with default options (one SMTP capture without auth); `close()` stops them all. */
export async function startAllEmulators() {
  const [warehouse, callRecorder, enrichment, emailMarketing, sequences, scoring, billing, externalCrm, smtp] = await Promise.all([
    startWarehouseEmulator(), startCallRecorderEmulator(), startEnrichmentEmulator(), startEmailMarketingEmulator(), startSequencesEmulator(),
    startScoringEmulator(), startBillingEmulator(), startExternalCrmEmulator(), startSmtpCapture(),
  ]);
  const http = [warehouse, callRecorder, enrichment, emailMarketing, sequences, scoring, billing, externalCrm];
  return {
    warehouse, callRecorder, enrichment, emailMarketing, sequences, scoring, billing, externalCrm, smtp,
    reset(): void {
      for (const e of http) e.reset();
      smtp.reset();
    },
    async close(): Promise<void> {
      await Promise.all([...http.map((e) => e.close()), smtp.close()]);
    },
  };
}
