import assert from "node:assert/strict";
import { generateKeyPairSync, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { silentLogger } from "../../kernel/log.js";
import { createGateway } from "../../firmware/runtime/create-gateway.js";
import { identityFiles } from "../../firmware/runtime/identity-upkeep.js";
import { IdentityWatch } from "../../firmware/runtime/identity-watch.js";
import { replaceFile, writeBootState } from "../../provisioning/attest/files.js";
import { caFromPem, gatewayUri, issueCertificate } from "../../fleet/ca/pki.js";
import { newStack, SIM_EXAMPLE, waitFor } from "../e2e/harness.js";

const DAY = 86_400_000;

/**
 * The watch's failure paths on a running gateway (software identity on the dev stack, real broker and
 * receiver): a renewal that fails is audited and retried, files that do not fit together are reported
 * and ignored, and the identity in use keeps working throughout; a good renewal is switched to.
 */
void test("identity watch: failed renewal and unusable files are audited, the identity in use keeps working", async () => {
  const stack = await newStack();
  const { service, store } = stack.receiver(silentLogger(), "rw", { shared: false });
  await service.start();
  const loaded = await stack.addGateway("gw-watch", SIM_EXAMPLE(), (cfg) => {
    for (const s of cfg.sources as Array<Record<string, unknown>>) s.rateHz = 20;
  });
  const config = loaded.config;
  const { gateway, identity } = await createGateway({ config: loaded, logger: silentLogger() });
  const ca = caFromPem(readFileSync(stack.pki.caCert, "utf8"), readFileSync(stack.pki.caKey, "utf8"));
  const [certFile] = identityFiles(config);
  assert.ok(certFile);
  // The certificate is 30 days old to the watch (renewal due at 50%), until a renewal succeeds.
  let skew = 15 * DAY;
  let failRenew = true;
  let renewCalls = 0;
  const watch = new IdentityWatch({
    identity, files: identityFiles(config), renewAt: 0.5, pollMs: 100, logger: silentLogger(), clock: { nowMs: () => Date.now() + skew, nowNs: () => BigInt(Date.now() + skew) * 1_000_000n },
    apply: (next) => gateway.switchIdentity(next),
    onFailure: (stage, err) => gateway.reportIdentityFailure(stage, err),
    renew: async () => {
      renewCalls++;
      if (failRenew) throw new Error("EST server unreachable (test)");
      const issued = await issueCertificate({ ca, commonName: "gw-watch", publicKey: identity.signer.publicKey(), days: 30, usage: "client", sanUris: [gatewayUri("gw-watch")] });
      replaceFile(certFile, issued.certPem);
      // What `otgw identity renew` leaves next to the certificate: the fleet's verdict on its quote.
      writeBootState(certFile, { status: "match", policy: { image: "otgw-test", version: "1.0.0", file: "p.json" }, pcrs: { 11: "ab".repeat(32) }, eventLog: "no event log", summary: "boot state matches otgw-test 1.0.0" }, "renew", new X509Certificate(issued.certPem).serialNumber);
      skew = 0;
    },
  });
  const audit = (): Array<{ type: string; data: Record<string, unknown> }> => readFileSync(join(config.gateway.stateDir, "audit.jsonl"), "utf8").split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as { type: string; data: Record<string, unknown> });
  const failed = (stage: string): number => audit().filter((e) => e.type === "identity.failed" && e.data.stage === stage).length;
  let stopped = false;
  try {
    await gateway.start();
    watch.start();
    await waitFor(() => failed("renew") === 1, "the failed renewal audited");
    assert.equal(renewCalls, 1, "not retried before the retry delay (5 min for a 30-day certificate)");
    const before = store.counts().verified;
    await waitFor(() => store.counts().verified > before + 50, "readings flowing on the old identity");
    // Six minutes later (to the watch) the renewal is retried, succeeds and is switched to.
    failRenew = false;
    skew += 6 * 60_000;
    await waitFor(() => watch.switches === 1, "the renewed certificate in use");
    assert.equal(renewCalls, 2);
    assert.equal(audit().filter((e) => e.type === "identity.renewed").length, 1);
    const boot = audit().filter((e) => e.type === "identity.boot-state");
    assert.equal(boot.length, 1, "the renewal's boot-state verdict is audited by the running gateway");
    assert.deepEqual(boot[0]?.data, { op: "renew", status: "match", policy: "otgw-test 1.0.0", pcrs: { 11: "ab".repeat(32) }, eventLog: "no event log" });

    // A certificate for another key: reported after a few checks, never used.
    const other = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const wrong = await issueCertificate({ ca, commonName: "gw-watch", publicKey: other.publicKey, days: 30, usage: "client", sanUris: [gatewayUri("gw-watch")] });
    const inUse = watch.identity.tls.cert;
    replaceFile(certFile, wrong.certPem);
    await waitFor(() => failed("load") === 1, "the unusable files audited");
    assert.equal(watch.identity.tls.cert, inUse, "the identity in use stays");
    const mid = store.counts().verified;
    await waitFor(() => store.counts().verified > mid + 50, "readings still flowing");
    assert.equal(watch.switches, 1);
    await watch.stop();
    await gateway.stop();
    stopped = true;
    await waitFor(() => store.counts().verified >= gateway.stats.publishedData, "the receiver to catch up");
    const c = store.counts();
    assert.equal(c.verified, gateway.stats.publishedData, "nothing lost across the switch");
    assert.deepEqual(c.byReason, {});
    assert.equal(c.events.SEQUENCE_GAP ?? 0, 0);
  } finally {
    if (!stopped) {
      await watch.stop();
      await gateway.stop();
    }
    await watch.identity.close?.();
    await service.stop();
    store.close();
    await stack.stop();
  }
});
