/** The connector contract against the HubSpot connector and the external-CRM emulator (HubSpot CRM v3). */
import { Secret } from '../../libs/secrets/crypto.ts';
import { createHubSpotConnector } from '../../libs/sync/hubspot/connector.ts';
import { startExternalCrmEmulator } from '../emulators/external-crm.ts';
import { connectorContract } from './connector.contract.ts';

const CLIENT_SECRET = 'hubspot-app-client-secret-0000';

connectorContract('hubspot', async ({ receiverUrl, clock, http }) => {
  const crm = await startExternalCrmEmulator({ webhook: { url: `${receiverUrl}/hooks/hubspot`, clientSecret: CLIENT_SECRET, batch: true } });
  const connector = createHubSpotConnector({
    connectionId: 'conn_hubspot_1', token: new Secret(crm.token), http, baseUrl: crm.url, clock, overlapMs: 0,
  });
  return {
    connector,
    app: crm,
    async seedPerson(email, firstName, lastName) {
      return crm.seed('contacts', { email, firstname: firstName, lastname: lastName }).id;
    },
    async editPerson(id, lastName) { await crm.userEdit('contacts', id, { lastname: lastName }); },
    async deletePerson(id) { await crm.userDelete('contacts', id); },
    countByEmail: (email) => [...crm.objects.contacts.values()].filter((c) => !c.archived && c.properties.email === email.toLowerCase()).length,
    missingId: '999999',
    paths: { create: { path: '/crm/v3/objects/contacts/batch/create', method: 'POST' }, read: { path: '/crm/v3/objects/contacts/batch/read', method: 'POST' } },
    invalidEmailCode: 'VALIDATION_ERROR',
    association: {
      kind: 'person-company',
      async make() {
        const contact = crm.seed('contacts', { email: `assoc-${Date.now()}@contract.example` });
        const other = crm.seed('companies', { name: 'Initech', domain: 'initech.example' });
        const company = crm.seed('companies', { name: 'Acme', domain: 'acme.example' });
        // An earlier primary company: writing the new primary demotes it, so one primary syncs.
        await connector.writeAssociations([{ kind: 'person-company', fromId: contact.id, toId: other.id, primary: true }]);
        return { fromId: contact.id, toId: company.id };
      },
    },
    webhookSecret: new Secret(CLIENT_SECRET),
    badCredentials: () => createHubSpotConnector({ connectionId: 'conn_hubspot_1', token: new Secret('pat-na1-revoked'), http, baseUrl: crm.url, clock }),
  };
});
