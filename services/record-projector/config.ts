import { baseConfigSpec } from '../../libs/config/index.ts';

/** The projector needs only the shared variables (stack addresses, topic prefix, log level). */
export const projectorConfigSpec = { ...baseConfigSpec } as const;
