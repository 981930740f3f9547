import assert from "node:assert/strict";
import { verify } from "node:crypto";
import { describe, it } from "node:test";
import { KeyStoreError } from "../../kernel/errors.js";
import type { KeyStore } from "../../kernel/keystore.js";

/** A fresh, empty key store for one test, and how to dispose of it. */
export interface KeyStoreFactory {
  create(): Promise<{ store: KeyStore; dispose: () => Promise<void> }>;
}

const ok = (pub: import("node:crypto").KeyObject, data: Buffer, sig: Buffer): boolean => verify("sha256", data, { key: pub, dsaEncoding: "ieee-p1363" }, sig);

/** The behaviour every KeyStore (software, TPM) must have. */
export function keyStoreContract(name: string, kind: "software" | "tpm", factory: KeyStoreFactory): void {
  void describe(`KeyStore contract: ${name}`, () => {
    void it("creates a P-256 key whose ES256 signatures (P1363, 64 bytes) verify", async () => {
      const { store, dispose } = await factory.create();
      try {
        assert.equal(store.kind, kind);
        assert.equal(await store.has("gw"), false);
        const s = await store.create("gw");
        assert.equal(s.kind, kind);
        assert.equal(s.algorithm, "ES256");
        const pub = s.publicKey();
        assert.equal(pub.type, "public");
        assert.equal(pub.asymmetricKeyDetails?.namedCurve, "prime256v1");
        const data = Buffer.from("session-open");
        const sig = await s.sign(data);
        assert.equal(sig.length, 64);
        assert.ok(ok(pub, data, sig));
        assert.ok(!ok(pub, Buffer.from("session-opem"), sig), "a signature must not verify for other data");
        assert.equal(await store.has("gw"), true);
      } finally {
        await dispose();
      }
    });

    void it("opens the same key again: same public key, signatures verify", async () => {
      const { store, dispose } = await factory.create();
      try {
        const a = await store.create("gw");
        const b = await store.open("gw");
        assert.ok(a.publicKey().equals(b.publicKey()));
        const sig = await b.sign(Buffer.from("checkpoint"));
        assert.ok(ok(a.publicKey(), Buffer.from("checkpoint"), sig));
      } finally {
        await dispose();
      }
    });

    void it("never replaces a key silently and names the missing key", async () => {
      const { store, dispose } = await factory.create();
      try {
        await store.create("gw");
        await assert.rejects(store.create("gw"), (e: unknown) => e instanceof KeyStoreError && e.code === "KEY_EXISTS");
        await assert.rejects(store.open("nope"), (e: unknown) => e instanceof KeyStoreError && e.code === "KEY_MISSING" && /nope/.test(e.message));
        await assert.rejects(async () => store.create("../etc"), (e: unknown) => e instanceof KeyStoreError && e.code === "KEY_NAME_INVALID");
      } finally {
        await dispose();
      }
    });

    void it("keeps distinct keys apart and signs many times, concurrently", async () => {
      const { store, dispose } = await factory.create();
      try {
        const a = await store.create("a");
        const b = await store.create("b");
        assert.ok(!a.publicKey().equals(b.publicKey()));
        const msgs = Array.from({ length: 12 }, (_, i) => Buffer.from(`m${i}`));
        const sigs = await Promise.all(msgs.map((m, i) => (i % 2 ? a : b).sign(m)));
        sigs.forEach((sig, i) => assert.ok(ok((i % 2 ? a : b).publicKey(), msgs[i]!, sig), `signature ${i}`));
        const again = await Promise.all([a.sign(msgs[0]!), a.sign(msgs[0]!)]);
        assert.ok(again.every((s) => ok(a.publicKey(), msgs[0]!, s)));
      } finally {
        await dispose();
      }
    });
  });
}
