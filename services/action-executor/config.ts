import { baseConfigSpec, int } from '../../libs/config/index.ts';

export const executorConfigSpec = {
  ...baseConfigSpec,
  /** Runs of one workspace executing at once; more wait in order. */
  runsPerWorkspace: int('HUB_RUNS_PER_WORKSPACE', 100, { min: 1, max: 10_000 }),
  /** A record write caused by a chain deeper than this fails its run (workflow loops). */
  workflowMaxDepth: int('HUB_WORKFLOW_MAX_DEPTH', 5, { min: 1, max: 100 }),
  stepTimeoutMs: int('HUB_STEP_TIMEOUT_MS', 30_000, { min: 100, max: 15 * 60_000 }),
  stepMaxAttempts: int('HUB_STEP_MAX_ATTEMPTS', 5, { min: 1, max: 50 }),
  stepRetryBackoffMs: int('HUB_STEP_RETRY_BACKOFF_MS', 500, { min: 0, max: 60_000 }),
  /** A record.search that would read more candidates than this fails (add an equality to its filter). */
  searchScanMax: int('HUB_SEARCH_SCAN_MAX', 10_000, { min: 1, max: 1_000_000 }),
  /** Runs held in memory (running or waiting) before the executor stops reading hub.runs for a while. */
  maxBufferedRuns: int('HUB_EXECUTOR_MAX_BUFFERED_RUNS', 20_000, { min: 100, max: 1_000_000 }),
} as const;
