import { keyId } from "../../kernel/keystore.js";
import { keyFingerprint, keyFromSpki } from "./chain.js";

/** An `identity.rotated` entry seen and not yet covered by a checkpoint. */
interface Rotation {
  seq: number;
  keyFrom: string;
  keyTo: string;
}

/**
 * The chain of keys an audit log's checkpoints must follow (docs/audit-log.md "Key rotation"): the
 * first key is the first pinned one (or, unpinned, whichever signs the first checkpoint); a checkpoint
 * by another key is accepted only when the key in force handed over to it, i.e. signed a checkpoint
 * covering an `identity.rotated` entry with `keyFrom` = its own key id and `keyTo` = the new key's id,
 * or when the auditor pinned that key too (a rotation made while the gateway was stopped).
 */
export class KeyChain {
  private current: string | null;
  private readonly pinned: ReadonlySet<string>;
  /** keyId (hex) of the key the key in force introduced; the next checkpoint may be by it. */
  private handedTo: string | null = null;
  private rotations: Rotation[] = [];
  /** SPKI (base64) of every key that signed, in order. */
  readonly signers: string[] = [];

  constructor(pinned: readonly string[]) {
    this.current = pinned[0] ?? null;
    this.pinned = new Set(pinned);
  }

  /** Notes an `identity.rotated` entry; it counts once a checkpoint by `keyFrom` covers it. */
  rotation(seq: number, data: Record<string, unknown>): void {
    if (typeof data.keyFrom === "string" && typeof data.keyTo === "string") this.rotations.push({ seq, keyFrom: data.keyFrom, keyTo: data.keyTo });
  }

  /** Checks a checkpoint's key (its signature already verified); returns the problem or null. */
  checkpoint(spki: string, upTo: number): string | null {
    if (this.current === null) {
      this.current = spki;
    } else if (spki !== this.current) {
      if (!this.pinned.has(spki) && (this.handedTo === null || keyIdOf(spki) !== this.handedTo)) {
        const inForce = this.pinned.has(this.current) ? "the given key" : "the key in force";
        return `checkpoint signed by ${keyFingerprint(spki)}, not by ${inForce} ${keyFingerprint(this.current)} nor by a key it handed over to (an identity.rotated entry naming the new key, covered by a checkpoint of ${keyFingerprint(this.current)})`;
      }
      this.current = spki;
      this.handedTo = null;
    }
    if (this.signers.at(-1) !== spki) this.signers.push(spki);
    const current = keyIdOf(this.current);
    for (const r of this.rotations) if (r.seq <= upTo && r.keyFrom === current) this.handedTo = r.keyTo;
    this.rotations = this.rotations.filter((r) => r.seq > upTo);
    return null;
  }
}

function keyIdOf(spki: string): string {
  return keyId(keyFromSpki(spki));
}
