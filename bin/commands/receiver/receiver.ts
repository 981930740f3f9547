import { writeReceiverKeys } from "../../../ingest/receiver-keys.js";

export function receiverKeygen(dir: string): number {
  const r = writeReceiverKeys(dir);
  console.log(`receiver key pair written: ${r.privateKeyFile} (keep private), ${r.publicKeyFile} (give to gateways)`);
  return 0;
}
