// Tells which integration a scenario exercises (scenarios.md §2): the proxy asking the rating
// for an authorization before relaying the call (§2.1, the proxy must call /v1/authorization),
// or passive rating of calls mirrored over HEP (§2.2, no authorization involved). Decided from
// the sipp XML the scenario sends, since the YAML format has no field for it.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadScenarioFile } from './load.ts';

export type ScenarioKind = 'authorization' | 'passive-hep';

export interface ScenarioClassification {
  kind: ScenarioKind;
  /** One sentence naming the evidence, for the command line's report. */
  reason: string;
}

// A final response the UAC waits for (optional ones are provisional and prove nothing).
const REQUIRED_RECV = /<recv\b(?![^>]*optional="true")[^>]*\bresponse="(\d{3})"/g;
const PAI_HEADER = /^\s*P-Asserted-Identity\s*:/im;

function requiredResponses(xml: string): number[] {
  return [...xml.matchAll(REQUIRED_RECV)].map((match) => Number(match[1]));
}

/**
 * - the UAC requires a 403: only the rating authorization refuses calls, so it is `authorization`;
 * - the UAC sends P-Asserted-Identity: the HEP agent identifies callers by it, so `passive-hep`;
 * - otherwise (an answered call with no identity for a passive agent) the proxy can only have
 *   routed it from the authorization's carrier list: `authorization`.
 * Throws ScenarioError when the YAML cannot be loaded.
 */
export function classifyScenario(file: string): ScenarioClassification {
  const scenario = loadScenarioFile(file);
  const xmls: string[] = [];
  for (const worker of scenario.workers) {
    if (worker.type !== 'sipp' || worker.scenario === undefined) continue;
    try {
      xmls.push(readFileSync(resolve(scenario.basedir, worker.scenario), 'utf8'));
    } catch {
      // A missing XML fails the run later with a clear message; classify from what is readable.
    }
  }
  if (xmls.some((xml) => requiredResponses(xml).includes(403))) {
    return { kind: 'authorization', reason: 'the UAC expects a 403 refusal, which only the rating authorization produces' };
  }
  if (xmls.some((xml) => PAI_HEADER.test(xml))) {
    return {
      kind: 'passive-hep',
      reason: 'the UAC sends P-Asserted-Identity for the HEP agent to identify the caller; no authorization is involved',
    };
  }
  return {
    kind: 'authorization',
    reason: 'an answered call without a caller identity for a passive agent: the proxy routes it from the authorization carrier list',
  };
}
