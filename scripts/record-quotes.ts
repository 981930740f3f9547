/**
 * Records the TPM quotes that test/attest/quote.test.ts verifies: a software TPM (swtpm) with PCRs 4, 7
 * and 11 extended by fixed digests (a simulated measured boot), an attestation key created in it, and
 * quotes over PCRs 0,2,4,7,11 with fixed nonces; plus a second swtpm's AK (the "other AK"). Only public
 * material is written: AK public areas, signed TPMS_ATTEST, signatures, PCR values. The swtpm state
 * (and with it every private key) is deleted at the end.
 *
 *   npx tsc -p tsconfig.json && node dist/scripts/record-quotes.js
 */
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repoRoot } from "../kernel/paths.js";
import { quoteBootState } from "../provisioning/attest/quote.js";
import { DEFAULT_QUOTE_PCRS } from "../provisioning/attest/protocol.js";
import { startSwtpm } from "../provisioning/tpm/swtpm.js";
import { Tpm } from "../provisioning/tpm/tpm.js";

/** Fixed stand-ins for what firmware and systemd-stub would measure. */
export const SIMULATED_BOOT: ReadonlyArray<[number, string]> = [[4, "otgw test boot loader"], [7, "otgw test secure boot db"], [11, "otgw test uki"]];
const nonce = (i: number): Buffer => createHash("sha256").update(`otgw recorded quote nonce ${i}`).digest();

const dir = mkdtempSync(join(tmpdir(), "otgw-record-quotes-"));
const out = join(repoRoot(), "test", "fixtures", "quotes");
mkdirSync(out, { recursive: true });
try {
  const a = await startSwtpm(join(dir, "a"));
  const b = await startSwtpm(join(dir, "b"));
  const ta = Tpm.open(a.tcti);
  const tb = Tpm.open(b.tcti);
  try {
    for (const [pcr, what] of SIMULATED_BOOT) await ta.extendPcr(pcr, createHash("sha256").update(what).digest());
    const ak = await ta.createAttestationKey();
    const quotes = [];
    for (const i of [1, 2]) {
      const n = nonce(i);
      quotes.push({ nonce: n.toString("hex"), evidence: await quoteBootState({ tpm: ta, ak, nonce: n, pcrs: DEFAULT_QUOTE_PCRS }) });
    }
    const otherAk = await tb.createAttestationKey();
    const otherQuote = { nonce: nonce(3).toString("hex"), evidence: await quoteBootState({ tpm: tb, ak: otherAk, nonce: nonce(3), pcrs: DEFAULT_QUOTE_PCRS }) };
    const file = {
      about: "recorded by scripts/record-quotes.ts from swtpm; public material only (no private key). PCRs 4, 7, 11 extended with SHA-256 of fixed strings.",
      simulatedBoot: SIMULATED_BOOT.map(([pcr, what]) => ({ pcr, extendedWith: `sha256("${what}")` })),
      akPublic: ak.pub.toString("base64"),
      quotes,
      otherTpm: { akPublic: otherAk.pub.toString("base64"), quote: otherQuote },
    };
    writeFileSync(join(out, "swtpm-quotes.json"), `${JSON.stringify(file, null, 2)}\n`);
    console.log(`wrote ${join(out, "swtpm-quotes.json")}`);
  } finally {
    await ta.close();
    await tb.close();
    await a.stop();
    await b.stop();
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
