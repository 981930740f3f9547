import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { TpmError } from "../../kernel/errors.js";
import { decodeKeyFile, encodeKeyFile } from "../../provisioning/tpm/keyfile.js";
import { startSwtpm, type RunningSwtpm } from "../../provisioning/tpm/swtpm.js";
import { EK_CERT_NV, Tpm } from "../../provisioning/tpm/tpm.js";
import { TpmKeyStore } from "../../provisioning/tpm/tpm-keystore.js";
import { ATTR, nameOf, parseEccPublic, rsaPublicKeyOf } from "../../provisioning/tpm/wire.js";
import { X509Certificate } from "node:crypto";

void describe("TPM key store details (swtpm)", () => {
  let dir: string;
  let tpm: RunningSwtpm;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "otgw-tpmunit-"));
    tpm = await startSwtpm(join(dir, "tpm"), { ekCaDir: join(dir, "vendor") });
  });
  after(async () => {
    await tpm?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  void it("writes a TSS2 PRIVATE KEY file (0600) that OpenSSL parses, with a fixedTPM/fixedParent key", async () => {
    const store = new TpmKeyStore(join(dir, "keys"), tpm.tcti);
    try {
      await store.create("gw");
      const file = store.keyFile("gw");
      const pem = readFileSync(file, "utf8");
      assert.ok(pem.startsWith(`${"-".repeat(5)}BEGIN TSS2 PRIVATE KEY${"-".repeat(5)}`), "a TSS2 key blob, not an exportable private key");
      const asn1 = spawnSync("openssl", ["asn1parse", "-in", file], { encoding: "utf8" });
      assert.equal(asn1.status, 0, asn1.stderr);
      assert.match(asn1.stdout, /2\.23\.133\.10\.1\.3/);
      // Key bytes are dumped as hex and may spell "BAD" by chance: look for parse errors outside them.
      assert.doesNotMatch(asn1.stdout.replace(/\[HEX DUMP\]:[0-9A-F]*/g, ""), /BAD|error/i);
      const blob = decodeKeyFile(pem);
      assert.equal(blob.parent, 0x40000001);
      assert.equal(encodeKeyFile(blob), pem);
      const area = parseEccPublic(blob.pub);
      for (const a of [ATTR.fixedTPM, ATTR.fixedParent, ATTR.sensitiveDataOrigin, ATTR.sign]) assert.ok(area.attributes & a);
      assert.equal(nameOf(area).length, 34);
      assert.equal(statSync(file).mode & 0o777, 0o600);
    } finally {
      await store.close();
    }
  });

  void it("reads the EK certificate from NV and recreates the certified EK", async () => {
    const t = Tpm.open(tpm.tcti);
    try {
      const der = await t.readNv(EK_CERT_NV.rsa);
      assert.ok(der);
      assert.ok(new X509Certificate(der).publicKey.equals(rsaPublicKeyOf(await t.endorsementPublic())));
      assert.equal(await t.readNv(0x01c0fff0), null);
    } finally {
      await t.close();
    }
  });

  void it("refuses a key file that is not a TSS2 key, and says what to do", () => {
    assert.throws(() => decodeKeyFile(`${"-".repeat(5)}BEGIN PRIVATE KEY${"-".repeat(5)}\nMA==\n${"-".repeat(5)}END PRIVATE KEY${"-".repeat(5)}\n`), (e: unknown) => e instanceof TpmError && e.code === "TPM_KEYFILE" && /otgw provision/.test(e.message));
  });

  void it("an unreachable TPM is a clear error naming the TCTI", async () => {
    const store = new TpmKeyStore(join(dir, "keys2"), "swtpm:host=127.0.0.1,port=9");
    await assert.rejects(store.create("gw"), (e: unknown) => e instanceof TpmError && e.code === "TPM_UNREACHABLE" && /identity\.tpm\.tcti/.test(e.message));
  });

  void it("fails loudly (never skips) when swtpm is not installed", async () => {
    const path = process.env.PATH;
    process.env.PATH = join(dir, "empty-bin");
    try {
      await assert.rejects(startSwtpm(join(dir, "none")), (e: unknown) => e instanceof TpmError && e.code === "SWTPM_MISSING" && /apt-get install swtpm/.test(e.message));
    } finally {
      process.env.PATH = path;
    }
  });
});
