import { existsSync, readFileSync } from "node:fs";
import type { QuoteEvidence } from "./protocol.js";
import type { TpmKeyBlob, Tpm } from "../tpm/tpm.js";

/** Where Linux exposes the firmware's TCG event log (absent without measured-boot firmware). */
export const EVENT_LOG_FILE = "/sys/kernel/security/tpm0/binary_bios_measurements";

/**
 * The gateway's half of boot-state attestation: TPM2_Quote by the attestation key over `pcrs` with the
 * verifier's nonce, the PCR values read after it, and the event log when the platform has one. No
 * payload or key material is in it: public key, signed structure, PCR values, log.
 */
export async function quoteBootState(o: { tpm: Tpm; ak: TpmKeyBlob; nonce: Buffer; pcrs: readonly number[]; eventLogFile?: string }): Promise<QuoteEvidence> {
  const q = await o.tpm.quote(o.ak, o.pcrs, o.nonce);
  const logFile = o.eventLogFile ?? EVENT_LOG_FILE;
  const eventLog = existsSync(logFile) ? readFileSync(logFile) : null;
  return {
    akPublic: o.ak.pub.toString("base64"),
    attest: q.attest.toString("base64"),
    signature: q.signature.toString("base64"),
    bank: "sha256",
    pcrs: Object.fromEntries(q.pcrs.map((p) => [String(p.pcr), p.value.toString("hex")])),
    eventLog: eventLog ? eventLog.toString("base64") : null,
    ...(eventLog ? {} : { eventLogNote: `no event log (${logFile} does not exist: the firmware does not measure the boot)` }),
  };
}
