import type { LowSync } from "lowdb";
import { AttestError, CaError } from "../../kernel/errors.js";
import { openJsonState } from "../../kernel/json-state.js";
import { keyId } from "../../kernel/keystore.js";

/** One certificate the fleet CA issued to a gateway. */
export interface IssuedRecord {
  serial: string;
  keySha256: string;
  issuedAt: string;
  notAfter: string;
  revokedAt?: string;
}

/** What the fleet knows about one gateway: its TPM (EK), its keys and certificates. */
export interface GatewayRecord {
  gatewayId: string;
  /** SHA-256 of the EK certificate (DER) and of the EK public key (SPKI DER). */
  ekCertSha256: string;
  ekPublicSha256: string;
  ekIssuer: string;
  /** SHA-256 of each identity key's SPKI that was attested in this TPM, oldest first. */
  keys: { keySha256: string; tpmName: string; attestedAt: string }[];
  certs: IssuedRecord[];
  enrolledAt: string;
  /** The attestation key bound to this EK (credential activation), which quotes at every renewal. */
  ak?: { akSha256: string; akPublic: string; boundAt: string };
  /** Boot-state verdicts of issued certificates, newest last (the last 20). */
  bootStates?: BootStateRecord[];
}

/** The fleet's record of one quote checked at an enrollment, renewal or rotation. */
export interface BootStateRecord {
  at: string;
  serial: string;
  status: "match" | "mismatch" | "no-policy" | "no-quote";
  policy?: { image: string; version: string };
  differ?: number[];
  pcrs: Record<string, string>;
  eventLog: "present" | "no event log";
}

interface InventoryFile { version: 1; gateways: Record<string, GatewayRecord> }

/** SHA-256 of a public key's SPKI DER, hex: how the inventory names keys (the kernel's one definition). */
export { keyId };

/** Cap on inventory.json (docs/config.md "Size limits"). */
export const INVENTORY_MAX_BYTES = 64 * 1024 * 1024;

/**
 * The device inventory of the fleet CA, a JSON state file (kernel/json-state.ts: rewritten atomically
 * and durably, 0600). Small by nature (one record per gateway); a fleet of many thousands would move
 * it into a database.
 */
export class Inventory {
  private readonly db: LowSync<InventoryFile>;

  constructor(file: string) {
    // The CA host is not heap-limited like a gateway, and a fleet's inventory outgrows the gateway's 1 MiB
    // state cap at about a thousand gateways: 64 MiB is tens of thousands, past where it belongs in a database.
    this.db = openJsonState<InventoryFile>(file, { version: 1, gateways: {} }, { maxBytes: INVENTORY_MAX_BYTES });
  }

  private get data(): InventoryFile {
    return this.db.data;
  }

  get(gatewayId: string): GatewayRecord | undefined {
    return this.data.gateways[gatewayId];
  }

  all(): GatewayRecord[] {
    return Object.values(this.data.gateways);
  }

  /** The gateway that ever used this key, if any. */
  ownerOfKey(keySha256: string): GatewayRecord | undefined {
    return this.all().find((g) => g.keys.some((k) => k.keySha256 === keySha256));
  }

  /** The gateway that holds this serial, if any. */
  bySerial(serial: string): { gateway: GatewayRecord; cert: IssuedRecord } | undefined {
    const s = serial.toLowerCase();
    for (const gateway of this.all()) {
      const cert = gateway.certs.find((c) => c.serial === s);
      if (cert) return { gateway, cert };
    }
    return undefined;
  }

  /**
   * Checks the enrollment rules before anything is issued: a key is never enrolled twice, and a
   * gateway id stays bound to the TPM (EK) that first enrolled it.
   */
  checkEnrollment(gatewayId: string, ekPublicSha256: string, keySha256: string, opts: { renewal: boolean }): void {
    const owner = this.ownerOfKey(keySha256);
    if (owner && !(opts.renewal && owner.gatewayId === gatewayId)) {
      throw new CaError("KEY_REUSED", `this key was already enrolled (gateway "${owner.gatewayId}"): every enrollment needs a fresh TPM key; run \`otgw identity rotate\` or re-provision`);
    }
    const existing = this.get(gatewayId);
    if (existing && existing.ekPublicSha256 !== ekPublicSha256) {
      throw new AttestError("EK_MISMATCH", `gateway id "${gatewayId}" is enrolled with another TPM (EK ${existing.ekPublicSha256.slice(0, 16)}…): one identity per device; if the board was replaced, revoke the old one (\`otgw ca revoke ${gatewayId} --forget\`) first`);
    }
  }

  /** Records an attested key and the certificate issued for it. */
  record(r: { gatewayId: string; ekCertSha256: string; ekPublicSha256: string; ekIssuer: string; keySha256: string; tpmName: string; cert: IssuedRecord;
    ak?: { akSha256: string; akPublic: string }; boot?: Omit<BootStateRecord, "at" | "serial"> }): void {
    const now = new Date().toISOString();
    const g = (this.data.gateways[r.gatewayId] ??= {
      gatewayId: r.gatewayId, ekCertSha256: r.ekCertSha256, ekPublicSha256: r.ekPublicSha256, ekIssuer: r.ekIssuer, keys: [], certs: [], enrolledAt: now,
    });
    if (!g.keys.some((k) => k.keySha256 === r.keySha256)) g.keys.push({ keySha256: r.keySha256, tpmName: r.tpmName, attestedAt: now });
    g.certs.push(r.cert);
    if (r.ak && g.ak?.akSha256 !== r.ak.akSha256) g.ak = { ...r.ak, boundAt: now };
    if (r.boot) g.bootStates = [...(g.bootStates ?? []), { ...r.boot, at: now, serial: r.cert.serial }].slice(-20);
    this.save();
  }

  /** Marks every unrevoked certificate of `gatewayId` revoked; returns their serials. */
  revoke(gatewayId: string, opts: { forget?: boolean } = {}): string[] {
    const g = this.get(gatewayId);
    if (!g) throw new CaError("UNKNOWN_GATEWAY", `no gateway "${gatewayId}" in the inventory: list them with \`otgw ca list\``);
    const now = new Date().toISOString();
    const serials = g.certs.filter((c) => !c.revokedAt).map((c) => { c.revokedAt = now; return c.serial; });
    // --forget frees the id for a replacement board; revoked serials stay on the CRL (kept below).
    if (opts.forget) {
      this.data.gateways[`${gatewayId}~retired~${Date.now()}`] = g;
      delete this.data.gateways[gatewayId];
    }
    this.save();
    return serials;
  }

  /** Every revoked certificate (for the CRL). */
  revoked(): IssuedRecord[] {
    return this.all().flatMap((g) => g.certs.filter((c) => c.revokedAt));
  }

  private save(): void {
    this.db.write();
  }
}
