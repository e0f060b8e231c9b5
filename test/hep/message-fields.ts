// Test helper: a decoded HEP message as a plain object holding every HepMessage field. The
// decoder's messages decode their text fields on first access (getters), which spreading or a
// deep comparison of the instance would not see; this reads each field by name instead.
import type { HepDecodeError, HepDecodeResult, HepMessage } from '../../src/hep/index.ts';

export function hepFields(message: HepMessage): HepMessage {
  return {
    version: message.version,
    ipFamily: message.ipFamily,
    ipProtocol: message.ipProtocol,
    srcIp: message.srcIp,
    dstIp: message.dstIp,
    srcPort: message.srcPort,
    dstPort: message.dstPort,
    timestampMicros: message.timestampMicros,
    payloadType: message.payloadType,
    captureId: message.captureId,
    authKey: message.authKey,
    correlationId: message.correlationId,
    nodeName: message.nodeName,
    payload: message.payload,
  };
}

/** The result with its message (if any) as hepFields gives it. */
export function plainResult(result: HepDecodeResult): { ok: true; message: HepMessage } | { ok: false; error: HepDecodeError } {
  return result.ok ? { ok: true, message: hepFields(result.message) } : result;
}
