/**
 * Boot-state quotes at enrollment and renewal (docs/identity.md "Measured boot"), end to end with swtpm:
 * PCRs extended to simulate a measured boot, a boot policy written from those values, a fleet CA that
 * requires quotes. The genuine gateway enrolls and renews; a TPM with one PCR extended differently is
 * refused naming the PCR; a renewal after a PCR changed is refused; a replayed quote is refused.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { GatewayError } from "../../kernel/errors.js";
import { silentLogger } from "../../kernel/log.js";
import { repoRoot } from "../../kernel/paths.js";
import { BOOT_POLICY_SCHEMA } from "../../fleet/attest/boot-policy.js";
import { FleetCa, initCa } from "../../fleet/ca/fleet-ca.js";
import { startEstServer, type RunningEst } from "../../fleet/est/server.js";
import { quoteBootState } from "../../provisioning/attest/quote.js";
import { EstClient } from "../../provisioning/est/client.js";
import { EK_CERT_NV, Tpm } from "../../provisioning/tpm/tpm.js";
import { TpmKeyStore, type TpmSigner } from "../../provisioning/tpm/tpm-keystore.js";
import { startTpmFixture, type TpmFixture } from "../tpm/fixture.js";
import { otgw } from "./cli-support.js";

const me = import.meta.url;
const PCRS = [0, 2, 4, 7, 11];
const digest = (s: string): Buffer => createHash("sha256").update(s).digest();

async function measure(tcti: string, events: Array<[number, string]>): Promise<Record<string, string>> {
  const t = Tpm.open(tcti);
  try {
    for (const [pcr, what] of events) await t.extendPcr(pcr, digest(what));
    return Object.fromEntries((await t.readPcrs(PCRS)).map((p) => [String(p.pcr), p.value.toString("hex")]));
  } finally {
    await t.close();
  }
}

void describe("measured boot: quotes at enrollment and renewal (swtpm, fleet CA with quotes required)", () => {
  let dir: string;
  let good: TpmFixture;
  let altered: TpmFixture;
  let est: RunningEst;
  let goodPcrs: Record<string, string>;
  const caDir = (): string => join(dir, "ca");
  const cfg = (id: string): string => join(dir, id, "gateway.json");
  const provision = (id: string, tpm: TpmFixture) => otgw(me, ["provision", "--id", id, "--est", est.url, "--est-ca", join(caDir(), "ca.crt"), "--tcti", tpm.tcti,
    "--template", join(repoRoot(), "config", "examples", "minimal.json"), "--out", cfg(id), "--state-dir", join(dir, id, "state")]);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "otgw-bootq-"));
    good = await startTpmFixture({ ekCaDir: join(dir, "vendor"), dir: join(dir, "tpm-good") });
    altered = await startTpmFixture({ ekCaDir: join(dir, "vendor"), dir: join(dir, "tpm-altered") });
    writeFileSync(join(dir, "vendor.pem"), good.swtpm.ekCaPem.join(""));
    await initCa(caDir(), { name: "otgw boot test fleet", days: 30, certDays: 1, crlDays: 1, serverNames: ["127.0.0.1"], ekRoots: [join(dir, "vendor.pem")], quotes: "required" });
    // A measured boot, as firmware and systemd-stub would extend it; the altered board differs in PCR 11 only.
    goodPcrs = await measure(good.tcti, [[4, "boot loader 1.0"], [7, "secure boot db"], [11, "uki 1.0"]]);
    const alteredPcrs = await measure(altered.tcti, [[4, "boot loader 1.0"], [7, "secure boot db"], [11, "uki 1.0 with init=/bin/sh"]]);
    assert.equal(alteredPcrs["4"], goodPcrs["4"]);
    assert.notEqual(alteredPcrs["11"], goodPcrs["11"]);
    // The released image's boot policy, written from the genuine values.
    mkdirSync(join(caDir(), "boot-policies"), { recursive: true });
    writeFileSync(join(caDir(), "boot-policies", "otgw-test-1.0.0.json"), JSON.stringify({
      schema: BOOT_POLICY_SCHEMA, image: { name: "otgw-test", version: "1.0.0" }, bank: "sha256",
      pcrs: Object.fromEntries(Object.entries(goodPcrs).map(([k, v]) => [k, [v]])),
    }, null, 2));
    est = await startEstServer({ ca: FleetCa.open(caDir()), logger: silentLogger() });
  });

  after(async () => {
    await est?.close();
    await good?.stop();
    await altered?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  void it("the genuine gateway enrolls with its quote verified; both sides record the verdict; check shows it", async () => {
    const r = await provision("gw-good", good);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /quote the boot state/);
    assert.match(r.out, /measured boot: boot state matches otgw-test 1\.0\.0/);
    const rec = FleetCa.open(caDir()).inventory.get("gw-good");
    assert.ok(rec?.ak, "the AK bound to the EK is in the inventory");
    assert.equal(rec.ak.akSha256.length, 64);
    assert.equal(rec.bootStates?.at(-1)?.status, "match");
    assert.deepEqual(rec.bootStates?.at(-1)?.policy, { image: "otgw-test", version: "1.0.0" });
    const audit = readFileSync(join(dir, "gw-good", "state", "audit.jsonl"), "utf8");
    assert.match(audit, /"identity\.boot-state"/);
    assert.match(audit, /"status":"match"/);
    const check = await otgw(me, ["check", "-c", cfg("gw-good")]);
    assert.match(check.out, /^OK +measured boot +PCR 0,2,4,7,11 as at provision .*matches otgw-test 1\.0\.0; no event log/m, check.out);
  });

  void it("a board with one PCR measured differently is refused enrollment: BOOT_STATE_MISMATCH naming PCR 11 and the policy", async () => {
    const r = await provision("gw-altered", altered);
    assert.notEqual(r.code, 0, r.out);
    assert.match(r.out, /BOOT_STATE_MISMATCH/);
    assert.match(r.out, /PCR 11 differs from the closest boot policy otgw-test 1\.0\.0/);
    assert.match(r.out, /boot-policies/);
    assert.equal(FleetCa.open(caDir()).inventory.get("gw-altered"), undefined, "no certificate was issued");
  });

  void it("a replayed quote (an earlier nonce) is refused with QUOTE_NONCE", async () => {
    const store = new TpmKeyStore(join(dir, "replay", "keys"), good.tcti);
    try {
      const client = new EstClient({ url: est.url, caPem: FleetCa.open(caDir()).certPem });
      const tpm = store.tpm();
      const signer = (await store.create("gw")) as TpmSigner;
      const ak = await store.attestationKey("gw");
      const ekCert = await tpm.readNv(EK_CERT_NV.rsa);
      assert.ok(ekCert);
      const ekPublic = await tpm.endorsementPublic();
      const attest = async () => {
        const ch = await client.attest({ gatewayId: "gw-replay", ekCert, ekPublic, keyPublic: signer.blob.pub, akPublic: ak.pub });
        assert.ok(ch.ak && ch.quote);
        return { ch, akSecret: (await tpm.activateCredential(ak, ch.ak.credentialBlob, ch.ak.secret)).toString("hex") };
      };
      const first = await attest();
      assert.ok(first.ch.quote);
      const evidence = await quoteBootState({ tpm, ak, nonce: first.ch.quote.nonce, pcrs: first.ch.quote.pcrs });
      assert.equal((await client.quote({ gatewayId: "gw-replay", challengeId: first.ch.challengeId, akSecret: first.akSecret, evidence })).status, "match");
      // The same quote again, on the same challenge and on a fresh one: the nonce is used up.
      await assert.rejects(client.quote({ gatewayId: "gw-replay", challengeId: first.ch.challengeId, akSecret: first.akSecret, evidence }), (e: unknown) => e instanceof GatewayError && e.code === "QUOTE_NONCE");
      const second = await attest();
      await assert.rejects(client.quote({ gatewayId: "gw-replay", challengeId: second.ch.challengeId, akSecret: second.akSecret, evidence }), (e: unknown) => e instanceof GatewayError && e.code === "QUOTE_NONCE");
      // The AK's credential activation is checked too: a wrong secret does not bind it.
      await assert.rejects(client.quote({ gatewayId: "gw-replay", challengeId: second.ch.challengeId, akSecret: "00".repeat(32), evidence }), (e: unknown) => e instanceof GatewayError && e.code === "QUOTE_AK_UNBOUND");
    } finally {
      await store.close();
    }
  });

  void it("renewal quotes again: accepted while the boot is unchanged, refused after PCR 11 changed", async () => {
    const ok = await otgw(me, ["identity", "renew", "-c", cfg("gw-good")]);
    assert.equal(ok.code, 0, ok.out);
    assert.match(ok.out, /measured boot: boot state matches otgw-test 1\.0\.0/);
    assert.equal(FleetCa.open(caDir()).inventory.get("gw-good")?.certs.length, 2);

    await measure(good.tcti, [[11, "a kernel command line the fleet never released"]]);
    const check = await otgw(me, ["check", "-c", cfg("gw-good")]);
    assert.match(check.out, /^WARN +measured boot +PCR 11 changed since the fleet's last check/m, check.out);
    const refused = await otgw(me, ["identity", "renew", "-c", cfg("gw-good")]);
    assert.notEqual(refused.code, 0, refused.out);
    assert.match(refused.out, /BOOT_STATE_MISMATCH/);
    assert.match(refused.out, /PCR 11 differs/);
    assert.equal(FleetCa.open(caDir()).inventory.get("gw-good")?.certs.length, 2, "no certificate for the changed boot");
  });
});
