import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { dirname, join } from "node:path";
import { IdentityError } from "../../kernel/errors.js";
import { processAlive as alive } from "../../kernel/pid.js";

/**
 * One renewal or rotation at a time per gateway (the running gateway's automatic renewal and a
 * technician's `otgw identity rotate` may coincide): interleaved, a renewal could put the old key's
 * certificate next to the new key. A lock file with the holder's pid; a dead holder's lock is taken over.
 * Returns the release function.
 */
export function lockIdentity(certFile: string): () => void {
  const file = join(dirname(certFile), ".identity.lock");
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, "wx", 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => rmSync(file, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const holder = Number(readFileSync(file, "utf8").trim());
      if (Number.isInteger(holder) && holder > 0 && alive(holder)) {
        throw new IdentityError("IDENTITY_BUSY", `another renewal or rotation of this gateway is running (pid ${holder}): wait for it to finish, then try again`);
      }
      rmSync(file, { force: true });
    }
  }
  throw new IdentityError("IDENTITY_BUSY", `cannot take the identity lock ${file}: remove it if no renewal is running`);
}
