/**
 * Every error code of the hub, in one place (as fastify's lib/errors.js): its HTTP
 * status, whether retrying the same operation can succeed, and what it means. Codes are
 * part of the API and of run records; `docs/errors.md` lists them and a test keeps the
 * two equal. Status 0: raised on the client side (the SDK), never answered by the hub.
 */
export interface CatalogueEntry {
  readonly status: number;
  readonly retriable: boolean;
  readonly meaning: string;
}

export const errorCatalogue = {
  // Requests to the API and the ingress
  BODY_INVALID: { status: 400, retriable: false, meaning: 'a field of the request body is missing or wrong; `path` names it' },
  JSON_INVALID: { status: 400, retriable: false, meaning: 'the body is not valid JSON' },
  QUERY_INVALID: { status: 400, retriable: false, meaning: 'a query parameter is wrong; `path` names it' },
  PARAMS_INVALID: { status: 400, retriable: false, meaning: 'a path parameter does not have the route\'s shape; `path` names it' },
  HEADERS_INVALID: { status: 400, retriable: false, meaning: 'a request header does not have the route\'s shape; `path` names it' },
  EVENT_INVALID: { status: 400, retriable: false, meaning: 'a record event is malformed; `path` names the field' },
  UNAUTHORIZED: { status: 401, retriable: false, meaning: 'no valid API key or admin token' },
  WEBHOOK_SIGNATURE_REQUIRED: { status: 401, retriable: false, meaning: 'the hook is signed and the delivery carries no signature' },
  KEY_REVOKED: { status: 403, retriable: false, meaning: 'the API key was revoked' },
  WORKSPACE_FORBIDDEN: { status: 403, retriable: false, meaning: 'the request names another workspace than the API key\'s' },
  NOT_FOUND: { status: 404, retriable: false, meaning: 'no such route or resource in this workspace' },
  METHOD_NOT_ALLOWED: { status: 405, retriable: false, meaning: 'the route exists with other methods (see Allow)' },
  WORKFLOW_CONFLICT: { status: 409, retriable: true, meaning: 'the workflow changed meanwhile; read it and try again' },
  CREDENTIAL_EXISTS: { status: 409, retriable: false, meaning: 'a credential of that name exists; PUT replaces it' },
  WORKFLOW_NOT_ACTIVE: { status: 409, retriable: false, meaning: 'the workflow must be active for this' },
  WORKFLOW_NOT_MANUAL: { status: 409, retriable: false, meaning: 'runs by hand need a manual trigger (or a schedule)' },
  RUN_NOT_RETRIABLE: { status: 409, retriable: false, meaning: 'only a failed run can be retried' },
  RUN_ALREADY_ENDED: { status: 409, retriable: false, meaning: 'the run ended; nothing to cancel' },
  HOOK_DISABLED: { status: 410, retriable: false, meaning: 'the hook (or its workflow) is disabled' },
  BODY_TOO_LARGE: { status: 413, retriable: false, meaning: 'the request body is larger than the route accepts' },
  MEDIA_TYPE_UNSUPPORTED: { status: 415, retriable: false, meaning: 'the content type is not one the route reads' },
  REQUEST_HEADERS_TOO_LARGE: { status: 431, retriable: false, meaning: 'the URL and headers are larger than the hub forwards' },
  RATE_LIMITED: { status: 429, retriable: true, meaning: 'the workspace sent more than its rate; wait Retry-After' },
  DUPLICATE_IN_FLIGHT: { status: 503, retriable: true, meaning: 'the same id is being accepted by another request right now; retry' },
  INTERNAL: { status: 500, retriable: true, meaning: 'an unexpected failure; nothing of the request was applied' },
  API_UNAVAILABLE: { status: 503, retriable: true, meaning: 'the ingress could not reach the api (control plane) to forward the request; retry' },

  // Kafka and the schema registry
  KAFKA_UNAVAILABLE: { status: 503, retriable: true, meaning: 'Kafka did not acknowledge in time; retry with the same ids' },
  KAFKA_MESSAGE_TOO_LARGE: { status: 413, retriable: false, meaning: 'a message is larger than its topic takes (max.message.bytes)' },
  KAFKA_RECORD_INVALID: { status: 500, retriable: false, meaning: 'the broker refused a record as malformed' },
  KAFKA_NOT_AUTHORIZED: { status: 500, retriable: false, meaning: 'the cluster refused this client (ACLs, SASL); an operator has to act' },
  INDEX_BEHIND: { status: 503, retriable: true, meaning: 'an in-memory copy of a compacted topic did not catch up in time' },
  REGISTRY_UNAVAILABLE: { status: 503, retriable: true, meaning: 'the schema registry did not answer' },
  SCHEMA_INCOMPATIBLE: { status: 409, retriable: false, meaning: 'a schema change breaks BACKWARD compatibility' },
  SCHEMA_MISSING: { status: 500, retriable: false, meaning: 'a topic has no schema registered or in schemas/' },
  MESSAGE_UNDECODABLE: { status: 400, retriable: false, meaning: 'a consumed message is not Avro of a known schema' },
  MESSAGE_INVALID: { status: 400, retriable: false, meaning: 'a value does not fit its topic\'s schema' },
  HANDLER_FAILED: { status: 500, retriable: false, meaning: 'a consumer\'s handler kept failing on a message; it was parked on the DLQ' },

  // The store
  STORE_UNAVAILABLE: { status: 503, retriable: true, meaning: 'the MongoDB-wire store did not answer' },
  STORE_REJECTED: { status: 400, retriable: false, meaning: 'the store refused a document or query' },

  // Secrets
  SECRET_KEY_UNKNOWN: { status: 500, retriable: false, meaning: 'a sealed secret names a key id this process does not have' },
  SECRET_UNREADABLE: { status: 500, retriable: false, meaning: 'a sealed secret does not open with its key (tampered or wrong binding)' },

  // Record events
  RECORD_EVENT_INVALID: { status: 400, retriable: false, meaning: 'a record event on crm.records cannot be projected' },

  // Webhooks (Standard Webhooks)
  WEBHOOK_SIGNATURE_MISSING: { status: 401, retriable: false, meaning: 'a signature header is absent or empty' },
  WEBHOOK_TIMESTAMP_INVALID: { status: 401, retriable: false, meaning: 'the signature timestamp is not an integer or is over 5 minutes away' },
  WEBHOOK_SIGNATURE_INVALID: { status: 401, retriable: false, meaning: 'no signature matches any of the hook\'s secrets' },
  WEBHOOK_SECRET_INVALID: { status: 500, retriable: false, meaning: 'the hook\'s own secret is unusable (configuration)' },

  // Workflow definitions and templates
  WORKFLOW_INVALID: { status: 400, retriable: false, meaning: 'a workflow definition is refused; `path` points into it' },
  CRON_INVALID: { status: 400, retriable: false, meaning: 'a schedule\'s cron expression or time zone is not valid' },
  TEMPLATE_INVALID: { status: 400, retriable: false, meaning: 'a {{template}} does not parse' },
  TEMPLATE_VALUE_MISSING: { status: 422, retriable: false, meaning: 'a template read a value the run does not have' },
  RULE_INVALID: { status: 400, retriable: false, meaning: 'a JSON Logic rule uses an unknown operator or a wrong shape' },
  RULE_FAILED: { status: 422, retriable: false, meaning: 'a JSON Logic rule failed on the run\'s data (e.g. an unsafe regex)' },

  // Runs
  STEP_FAILED: { status: 500, retriable: false, meaning: 'a step failed with an error that carries no code of its own' },
  STEP_TIMEOUT: { status: 504, retriable: true, meaning: 'a step did not finish within its time limit' },
  STEP_TYPE_UNSUPPORTED: { status: 422, retriable: false, meaning: 'this executor has no handler for the step\'s type' },
  STEP_RECORD_TOO_LARGE: { status: 413, retriable: false, meaning: 'a step\'s record (input and output) is larger than hub.runs takes; its output is not kept' },
  ITERATOR_ITEMS_INVALID: { status: 422, retriable: false, meaning: 'an iterator\'s items did not render to an array' },
  ITERATOR_TOO_MANY_ITEMS: { status: 422, retriable: false, meaning: 'an iterator got more items than its maxItems' },
  RECORD_NOT_FOUND: { status: 404, retriable: false, meaning: 'a record step names a record that does not exist' },
  RECORD_VALUES_INVALID: { status: 422, retriable: false, meaning: 'a record step\'s values did not render to fields' },
  WORKFLOW_LOOP_DEPTH: { status: 422, retriable: false, meaning: 'a record write would go deeper than HUB_WORKFLOW_MAX_DEPTH (a loop)' },
  SEARCH_TOO_BROAD: { status: 422, retriable: false, meaning: 'a record search would read more than HUB_SEARCH_SCAN_MAX candidates' },
  WORKFLOW_VERSION_MISSING: { status: 422, retriable: false, meaning: 'a run names a workflow version hub.workflows does not hold' },
  RUN_NOT_RECORDABLE: { status: 500, retriable: false, meaning: 'hub.runs refused a run\'s events for a reason no retry fixes' },
  DRY_RUN_TIMEOUT: { status: 504, retriable: false, meaning: 'a dry run did not finish in time' },

  // Code steps
  CODE_ERROR: { status: 422, retriable: false, meaning: 'the code threw or does not parse (with line and column)' },
  CODE_TIMEOUT: { status: 422, retriable: false, meaning: 'the code ran longer than its time limit' },
  CODE_MEMORY_LIMIT: { status: 422, retriable: false, meaning: 'the code used more memory than its limit' },
  CODE_OUTPUT_TOO_LARGE: { status: 422, retriable: false, meaning: 'the code returned more than its output limit' },
  CODE_RESULT_INVALID: { status: 422, retriable: false, meaning: 'the code returned something that is not JSON' },
  CODE_INPUT_INVALID: { status: 422, retriable: false, meaning: 'the step\'s input is not JSON (a bug upstream of the step)' },
  CODE_SANDBOX_FAILED: { status: 503, retriable: true, meaning: 'the sandbox itself failed; not the code\'s fault' },

  // http steps and the guarded HTTP client
  HTTP_STATUS: { status: 502, retriable: false, meaning: 'the remote answered an error status (429/5xx are retried first)' },
  HTTP_URL_INVALID: { status: 422, retriable: false, meaning: 'the URL is not an absolute http(s) URL' },
  HTTP_REQUEST_INVALID: { status: 422, retriable: false, meaning: 'the request cannot be sent as given' },
  HTTP_ADDRESS_BLOCKED: { status: 422, retriable: false, meaning: 'the host resolves to a private, loopback, link-local or metadata address (SSRF guard)' },
  HTTP_HOST_NOT_FOUND: { status: 502, retriable: false, meaning: 'the host name does not resolve' },
  HTTP_CONNECTION_FAILED: { status: 502, retriable: true, meaning: 'the connection was refused or dropped' },
  HTTP_TLS_FAILED: { status: 502, retriable: false, meaning: 'the TLS handshake or certificate check failed' },
  HTTP_TIMEOUT: { status: 504, retriable: true, meaning: 'the remote did not answer in time' },
  HTTP_RESPONSE_TOO_LARGE: { status: 502, retriable: false, meaning: 'the answer is larger than the step accepts' },
  HTTP_TOO_MANY_REDIRECTS: { status: 502, retriable: false, meaning: 'more redirects than allowed' },
  HTTP_ABORTED: { status: 503, retriable: true, meaning: 'the request was cancelled (service stopping); the run resumes later' },
  HTTP_ALLOWLIST_INVALID: { status: 500, retriable: false, meaning: 'HUB_HTTP_ALLOWLIST has an entry that is not an IP, CIDR or host' },
  HTTP_STEP_INPUT_INVALID: { status: 422, retriable: false, meaning: 'a template rendered to something a request cannot carry' },
  CREDENTIAL_NOT_FOUND: { status: 422, retriable: false, meaning: 'a step names a credential the workspace does not have' },
  CREDENTIAL_TYPE_UNSUPPORTED: { status: 422, retriable: false, meaning: 'the named credential is of a type this step cannot use' },

  // Email steps and the notifier
  EMAIL_RECIPIENT_INVALID: { status: 422, retriable: false, meaning: 'a recipient rendered to something that is not an address' },
  EMAIL_CONTENT_INVALID: { status: 422, retriable: false, meaning: 'the subject or body rendered to something an email cannot carry' },
  EMAIL_DELIVERY_FAILED: { status: 502, retriable: false, meaning: 'the notifier reported the email as not delivered' },
  NOTIFICATION_INVALID: { status: 422, retriable: false, meaning: 'a notification request is malformed' },
  NOTIFICATION_CHANNEL_UNSUPPORTED: { status: 422, retriable: false, meaning: 'the notification names a channel the notifier does not have' },
  NOTIFICATION_CREDENTIAL_MISSING: { status: 422, retriable: false, meaning: 'the notification names a credential the workspace does not have' },
  NOTIFICATION_IN_FLIGHT: { status: 409, retriable: true, meaning: 'another notifier is delivering it now' },
  NOTIFICATION_FAILED: { status: 502, retriable: false, meaning: 'a delivery failed with an error that carries no code of its own' },
  SMTP_TEMPORARY_FAILURE: { status: 503, retriable: true, meaning: 'the mail server answered 4xx: try later' },
  SMTP_UNREACHABLE: { status: 503, retriable: true, meaning: 'the mail server was not reached' },
  SMTP_REJECTED: { status: 502, retriable: false, meaning: 'the mail server refused the message (5xx)' },
  SMTP_AUTH_FAILED: { status: 502, retriable: false, meaning: 'the mail server refused the credentials' },
  SMTP_FAILED: { status: 502, retriable: false, meaning: 'TLS, protocol or envelope trouble that retrying does not fix' },
  CHAT_DELIVERY_FAILED: { status: 502, retriable: false, meaning: 'a chat webhook failed in a way the HTTP client did not classify' },

  // Data sync: connectors to external apps and the reconcile rules
  SYNC_APP_UNAVAILABLE: { status: 503, retriable: true, meaning: 'the app kept failing (5xx, network) past the connector\'s retries; nothing is lost, try again' },
  SYNC_APP_RATE_LIMITED: { status: 429, retriable: true, meaning: 'the app\'s rate limit was not waited out within the call\'s wait budget' },
  SYNC_APP_AUTH_FAILED: { status: 502, retriable: false, meaning: 'the app refused the connection\'s credentials or scopes (401/403)' },
  SYNC_APP_REFUSED: { status: 502, retriable: false, meaning: 'the app refused a whole request (not one record); its own error body is kept' },
  SYNC_APP_ANSWER_INVALID: { status: 502, retriable: false, meaning: 'the app answered something the connector does not understand' },
  SYNC_CURSOR_INVALID: { status: 400, retriable: false, meaning: 'a sync cursor is not one this connector issued' },
  SYNC_OBJECT_UNSUPPORTED: { status: 422, retriable: false, meaning: 'the connector does not sync that object (or that association)' },
  SYNC_MAPPING_INVALID: { status: 400, retriable: false, meaning: 'a field mapping names an unknown field or an impossible direction' },
  SYNC_WEBHOOK_PAYLOAD_INVALID: { status: 400, retriable: false, meaning: 'a verified webhook body is not the app\'s event shape' },
  SYNC_TRANSITION_INVALID: { status: 409, retriable: false, meaning: 'the sync connection cannot do that in its present status (see the lifecycle table)' },
  SYNC_CREDENTIAL_MISSING: { status: 422, retriable: false, meaning: 'the connection names a stored credential that is missing or of the wrong type' },
  SYNC_RECORD_REFUSED: { status: 422, retriable: false, meaning: 'the app refused one record (its own answer is kept with the record, which is retried on later cycles)' },
  SYNC_RECONCILER_RUNNING: { status: 409, retriable: false, meaning: 'the sync state cannot be rebuilt while the sync reconciler runs: stop it first' },

  // Operating the hub (services/ops, asked by the api)
  OPS_UNAVAILABLE: { status: 503, retriable: true, meaning: 'the ops service (lag, DLQ, replays, alerts) did not answer; retry shortly' },
  GROUP_UNKNOWN: { status: 400, retriable: false, meaning: 'no consumer group of the hub has that name; `path` names the field' },
  PROJECTION_UNKNOWN: { status: 400, retriable: false, meaning: 'no projection of that name can be rebuilt (records can)' },
  OFFSETS_OUT_OF_RANGE: { status: 400, retriable: false, meaning: 'an offset lies outside what the partition holds (below its start or past its end)' },
  REPLAY_WINDOW_INVALID: { status: 400, retriable: false, meaning: 'a replay window starts or ends in the future, or ends before it starts' },
  REPLAY_UNSUPPORTED: { status: 400, retriable: false, meaning: 'this group or workflow cannot be replayed (the message says what to use instead)' },
  REPLAY_ENDED: { status: 409, retriable: false, meaning: 'the replay already ended and cannot be cancelled' },
  DLQ_MESSAGE_UNKNOWN: { status: 400, retriable: false, meaning: 'a listed id is not a parked message of this group (or of this workspace)' },
  CHAT_CONTENT_INVALID: { status: 422, retriable: false, meaning: 'a chat step\'s text or blocks rendered to something a chat message cannot carry' },

  // The SDK (client side)
  CLIENT_OPTIONS_INVALID: { status: 0, retriable: false, meaning: 'the SDK client was built with a missing or wrong option' },
  CLIENT_CLOSED: { status: 0, retriable: false, meaning: 'an event was emitted after close()' },
  EVENT_TOO_LARGE: { status: 0, retriable: false, meaning: 'one event is larger than a request may be' },
  EVENT_NOT_SERIALIZABLE: { status: 0, retriable: false, meaning: 'an event has no JSON form' },
  HUB_UNREACHABLE: { status: 0, retriable: true, meaning: 'the hub was not reached' },
  HUB_TIMEOUT: { status: 0, retriable: true, meaning: 'the hub did not answer in time' },
  HUB_BAD_RESPONSE: { status: 0, retriable: false, meaning: 'the hub answered something the SDK does not understand' },
} as const satisfies Record<string, CatalogueEntry>;

export type ErrorCode = keyof typeof errorCatalogue;
