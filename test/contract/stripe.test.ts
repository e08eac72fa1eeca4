/** The connector contract against the Stripe connector and the billing emulator (Stripe v1). */
import { Secret } from '../../libs/secrets/crypto.ts';
import { createStripeConnector } from '../../libs/sync/stripe/connector.ts';
import { startBillingEmulator } from '../emulators/billing.ts';
import { connectorContract } from './connector.contract.ts';

const ENDPOINT_SECRET = 'whsec_contract_endpoint_secret_000000';

connectorContract('stripe', async ({ receiverUrl, clock, http }) => {
  const billing = await startBillingEmulator({ webhook: { url: `${receiverUrl}/hooks/stripe`, secret: ENDPOINT_SECRET } });
  const connector = createStripeConnector({
    connectionId: 'conn_stripe_1', apiKey: new Secret(billing.apiKey), http, baseUrl: billing.url, clock,
  });
  return {
    connector,
    app: billing,
    async seedPerson(email, firstName, lastName) {
      return (await billing.userEdit('customer', undefined, { email, name: `${firstName} ${lastName}` })).id;
    },
    async editPerson(id, lastName) {
      const c = billing.customers.get(id)!;
      await billing.userEdit('customer', id, { name: `${(c.name ?? '').split(' ')[0]} ${lastName}` });
    },
    async deletePerson(id) { await billing.userDelete('customer', id); },
    countByEmail: (email) => [...billing.customers.values()].filter((c) => c.email === email.toLowerCase()).length,
    missingId: 'cus_doesNotExist000',
    paths: { create: { path: '/v1/customers', method: 'POST' }, read: { path: '/v1/customers/', method: 'GET' } },
    invalidEmailCode: 'email_invalid',
    association: {
      kind: 'invoice-person',
      async make() {
        const customer = await billing.userEdit('customer', undefined, { email: `assoc-${Date.now()}@contract.example` });
        const [invoice] = await connector.create('invoices', [{ ref: 'inv_1', properties: { customer: customer.id, description: 'Contract' }, version: 1 }]);
        if (invoice?.status !== 'created') throw new Error(`invoice not created: ${JSON.stringify(invoice)}`);
        return { fromId: invoice.id, toId: customer.id };
      },
    },
    webhookSecret: new Secret(ENDPOINT_SECRET),
    badCredentials: () => createStripeConnector({ connectionId: 'conn_stripe_1', apiKey: new Secret('sk_test_revoked_000000000000'), http, baseUrl: billing.url, clock }),
  };
});
