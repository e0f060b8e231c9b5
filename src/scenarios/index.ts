// The scenario runner's public surface, for the command line (`canyan-rating test`).
export { runScenario, SCENARIO_DEFAULTS, type RunScenarioOptions, type ScenarioResult } from './runner.ts';
export { classifyScenario, type ScenarioClassification, type ScenarioKind } from './classify.ts';
export { loadScenarioFile, parseScenario, ScenarioError, type LoadedScenario } from './load.ts';
export { MAX_SEED } from './random.ts';
