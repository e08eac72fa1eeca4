import { baseConfigSpec, int } from '../../libs/config/index.ts';

export const matcherConfigSpec = {
  ...baseConfigSpec,
  /** How often schedules are checked for a due tick. */
  scheduleCheckMs: int('HUB_SCHEDULE_CHECK_MS', 1000, { min: 50, max: 60_000 }),
} as const;
