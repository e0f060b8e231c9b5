// The scenario runner's public surface, for the command line:
//
//   canyan-rating test SCENARIO.yaml [--target HOST:PORT] [--api-url URL] [--sipp PATH]
//                                    [--no-setup] [--no-teardown] [--seed N] [--verbose]
//
// maps onto runScenario({ file, target, apiUrl, sipp, setup: !noSetup, teardown: !noTeardown,
// seed (0..MAX_SEED, or null), verbose, log: console.log, signal }) and exits 1 unless `ok`.
// Passing an AbortSignal aborted on SIGINT kills running sipp processes and still runs teardown.
export { runScenario, SCENARIO_DEFAULTS, type RunScenarioOptions, type ScenarioResult } from './runner.ts';
export { classifyScenario, type ScenarioClassification, type ScenarioKind } from './classify.ts';
export { loadScenarioFile, parseScenario, ScenarioError, type LoadedScenario } from './load.ts';
export { MAX_SEED } from './random.ts';
