/** The attestation exchange between the gateway (EST client) and the fleet's verifier, as both sides see it. */

/** What the client sends to start attestation. */
export interface AttestRequest {
  gatewayId: string;
  /** EK certificate, DER (base64 on the wire). */
  ekCert: Buffer;
  /** EK public area, TPM2B_PUBLIC. */
  ekPublic: Buffer;
  /** Identity key public area, TPM2B_PUBLIC. */
  keyPublic: Buffer;
  /** Attestation key public area (TPM2B_PUBLIC), bound to the EK by a second credential. */
  akPublic?: Buffer;
}

/** The verifier's challenge: open it with TPM2_ActivateCredential. */
export interface AttestChallenge {
  challengeId: string;
  credentialBlob: Buffer;
  secret: Buffer;
  /** The credential bound to the AK's name (when an AK was sent). */
  ak?: { credentialBlob: Buffer; secret: Buffer };
  /** The nonce and PCRs for the boot-state quote that goes with this enrollment. */
  quote?: QuoteChallenge;
}

/**
 * PCRs quoted when the fleet names none (no active boot policy): 0 firmware code (SRTM/UEFI), 2 option
 * ROM / UEFI driver code, 4 boot manager and kernel image (the UKI's PE hash), 7 Secure Boot state and
 * the keys that verified the boot, 11 systemd-stub's measurement of the UKI sections (kernel, initrd,
 * command line) — the set systemd-measure predicts. 1, 3, 5 and 6 (platform configuration, GPT, host
 * state) change with settings and hardware, not with the software the fleet released.
 */
export const DEFAULT_QUOTE_PCRS: readonly number[] = [0, 2, 4, 7, 11];

/** The verifier's nonce for a quote and the PCRs it wants quoted (union of the active boot policies). */
export interface QuoteChallenge {
  /** 32 random bytes, base64 on the wire; single use, expires. */
  nonce: Buffer;
  pcrs: number[];
}

/** A gateway's boot-state evidence (JSON on the wire; docs/identity.md "Measured boot"). */
export interface QuoteEvidence {
  /** The AK's TPM2B_PUBLIC, base64. */
  akPublic: string;
  /** TPMS_ATTEST as the TPM signed it, base64. */
  attest: string;
  /** TPMT_SIGNATURE (ECDSA-SHA256 by the AK), base64. */
  signature: string;
  bank: "sha256";
  /** PCR number -> value (hex) as TPM2_PCR_Read returned it after the quote. */
  pcrs: Record<string, string>;
  /** The firmware's TCG event log (binary_bios_measurements), base64; null when the platform has none. */
  eventLog: string | null;
  /** "no event log" (and where it was looked for) when eventLog is null. */
  eventLogNote?: string;
}

/** The fleet's verdict on a quote that proved genuine (docs/identity.md "Measured boot"). */
export interface BootVerdict {
  status: "match" | "mismatch" | "no-policy" | "no-quote";
  /** The policy matched, or the closest one on a mismatch. */
  policy?: { image: string; version: string; file: string };
  /** PCRs that differ from `policy` on a mismatch. */
  differ?: number[];
  pcrs: Record<string, string>;
  akSha256?: string;
  eventLog: "present" | "no event log";
  /** One line for the technician. */
  summary: string;
}

/** `POST quote` (otgw EST extension): the evidence, and for an enrollment the AK's activated secret. */
export interface QuoteSubmission {
  gatewayId: string;
  /** The attest challenge this quote belongs to (enrollment, rotation); absent for a renewal. */
  challengeId?: string;
  /** Hex of the secret TPM2_ActivateCredential recovered with the AK (proves the AK is in that TPM). */
  akSecret?: string;
  evidence: QuoteEvidence;
}
