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
}

/** The verifier's challenge: open it with TPM2_ActivateCredential. */
export interface AttestChallenge {
  challengeId: string;
  credentialBlob: Buffer;
  secret: Buffer;
}
