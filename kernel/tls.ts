/**
 * What the uplink authenticates with. Today the key is a PEM string; with a TPM it becomes a TSS2
 * PRIVATE KEY PEM loaded through the tpm2 OpenSSL provider (FACTS: TPM), which is why TLS options are
 * built in this one function and nowhere else.
 */
export interface UplinkTlsMaterial {
  /** Trust anchor(s) for the broker's server certificate, PEM. */
  ca: string;
  /** The gateway's client certificate (chain), PEM. */
  cert: string;
  /** The gateway's client key, PEM (software) or TSS2 PEM blob (TPM). Never logged. */
  key: string;
  /** Server name to verify, when the URL host is not in the broker certificate. */
  servername?: string;
  /**
   * TPM identities: the unix socket of the TLS sidecar (provisioning/tpm/tls-sidecar.ts) that does
   * this mutual TLS with the TPM key; the uplink then speaks plain MQTT to that socket only.
   */
  via?: string;
}

/**
 * TLS options as MQTT.js passes them to `tls.connect`. MQTT.js's own option type lacks `minVersion`
 * although it forwards it, hence this explicit shape.
 */
export interface UplinkTlsOptions {
  /** Broker trust anchors, PEM. */
  ca: string;
  /** Client certificate, PEM (absent when a TLS sidecar holds the identity). */
  cert?: string;
  /** Client key, PEM (absent when a TLS sidecar holds the identity). */
  key?: string;
  /** TLS 1.3 only: the TPM provider path works on 1.3 only (FACTS: TPM). */
  minVersion: "TLSv1.3";
  /** Always verify the broker. */
  rejectUnauthorized: true;
  /** SNI and certificate name check override. */
  servername?: string;
  /** Sidecar mode: plain MQTT over the sidecar's unix socket (MQTT.js lets these override the URL). */
  protocol?: "mqtt";
  unixSocket?: true;
  path?: string;
}

/** TLS options for MQTT.js: mutual TLS, TLS 1.3 only. */
export function buildTlsOptions(m: UplinkTlsMaterial): UplinkTlsOptions {
  if (m.via) return { ca: m.ca, minVersion: "TLSv1.3", rejectUnauthorized: true, protocol: "mqtt", unixSocket: true, path: m.via };
  return {
    ca: m.ca,
    cert: m.cert,
    key: m.key,
    minVersion: "TLSv1.3",
    rejectUnauthorized: true,
    ...(m.servername ? { servername: m.servername } : {}),
  };
}
