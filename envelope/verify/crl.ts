import { readFileSync, statSync } from "node:fs";
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { errorText, CaError } from "../../kernel/errors.js";

const norm = (serial: string): string => serial.toLowerCase().replace(/^0+/, "");

/**
 * Revocation from the fleet CA's CRL file, for the receiver's Verifier (`isRevoked`). The file is
 * re-read when it changes (checked at most once a second), and a new CRL is used only after its
 * signature verifies against a fleet CA. Fails closed: with no verified CRL, everything counts as
 * revoked (GatewayTrust turns the throw into REVOKED), because a receiver that cannot tell must not
 * accept a possibly revoked gateway.
 */
export class CrlRevocation {
  private revoked: Set<string> | undefined;
  private mtimeMs = -1;
  private lastStat = 0;
  private loading: Promise<void> | undefined;
  private problem = "CRL not loaded yet";

  constructor(private readonly file: string, private readonly caCertsDer: Buffer[], private readonly onChange?: (info: { entries: number; error?: string }) => void) {}

  /** Loads the CRL now (call once at start-up so the first frames are not refused). */
  async load(): Promise<void> {
    const st = statSync(this.file, { throwIfNoEntry: false });
    if (!st) { this.problem = `no CRL at ${this.file}`; this.revoked = undefined; return; }
    this.mtimeMs = st.mtimeMs;
    try {
      const crl = new x509.X509Crl(readFileSync(this.file, "utf8"));
      let ok = false;
      for (const der of this.caCertsDer) if (await crl.verify({ publicKey: new x509.X509Certificate(der) })) ok = true;
      if (!ok) throw new CaError("CRL_UNTRUSTED", `${this.file} is not signed by a fleet CA`);
      this.revoked = new Set(crl.entries.map((e) => norm(e.serialNumber)));
      this.problem = "";
      this.onChange?.({ entries: this.revoked.size });
    } catch (err) {
      this.revoked = undefined;
      this.problem = errorText(err);
      this.onChange?.({ entries: 0, error: this.problem });
    }
  }

  /** The Verifier's revocation hook (synchronous; reloads in the background). */
  isRevoked = (serialHex: string): boolean => {
    const now = Date.now();
    if (now - this.lastStat > 1000 && !this.loading) {
      this.lastStat = now;
      const st = statSync(this.file, { throwIfNoEntry: false });
      if ((st?.mtimeMs ?? -2) !== this.mtimeMs) {
        this.loading = this.load().finally(() => { this.loading = undefined; });
      }
    }
    if (!this.revoked) throw new CaError("CRL_UNAVAILABLE", `revocation cannot be checked (${this.problem}): refusing; publish the CRL with \`otgw ca revoke\`/\`otgw ca init\` and point the receiver at it`);
    return this.revoked.has(norm(serialHex));
  };
}
