import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SoftwareKeyStore } from "../../provisioning/software-keystore.js";
import { TpmKeyStore } from "../../provisioning/tpm/tpm-keystore.js";
import { startSwtpm } from "../../provisioning/tpm/swtpm.js";
import { keyStoreContract } from "./keystore-contract.js";

keyStoreContract("software (files)", "software", {
  create() {
    const dir = mkdtempSync(join(tmpdir(), "otgw-ks-sw-"));
    return Promise.resolve({ store: new SoftwareKeyStore(dir), dispose: () => Promise.resolve(rmSync(dir, { recursive: true, force: true })) });
  },
});

keyStoreContract("TPM (swtpm, ESAPI through koffi)", "tpm", {
  async create() {
    const dir = mkdtempSync(join(tmpdir(), "otgw-ks-tpm-"));
    const tpm = await startSwtpm(join(dir, "tpm"));
    const store = new TpmKeyStore(join(dir, "keys"), tpm.tcti);
    return {
      store,
      async dispose() {
        await store.close();
        await tpm.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
});
