export { createHttpClient, decodeBody, type HttpClient, type HttpClientOptions, type HttpRequest } from './client.ts';
export { httpErrors, HttpStatusError, type HttpResponse } from './errors.ts';
export { parseAllowlist, createAddressGuard, ALLOWLIST_VARIABLE, type AddressGuard, type Resolve, type ResolvedAddress } from './address-guard.ts';
export { classifyAddress } from './address-ranges.ts';
export { redactHeaders, redactSecrets, isSecretHeader, REDACTED } from './redact.ts';
