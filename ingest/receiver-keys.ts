import { generateKeyPairSync } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** Writes a fresh receiver key pair; the private half never leaves the receiver host. */
export function writeReceiverKeys(dir: string): { privateKeyFile: string; publicKeyFile: string } {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const privateKeyFile = join(dir, "receiver.key.pem");
  const publicKeyFile = join(dir, "receiver.pub.pem");
  writeFileSync(privateKeyFile, privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600, flag: "wx" });
  writeFileSync(publicKeyFile, publicKey.export({ type: "spki", format: "pem" }));
  return { privateKeyFile, publicKeyFile };
}
