/**
 * Every stable error code, one table per area. A code is part of the interface (scripts and operators
 * match on it), so it is never reworded once released; the text beside it says what it means. The
 * error classes in errors.ts take only codes of their own table, so a typo does not compile.
 * Model bundle refusals have their own table beside the model code (firmware/models/errors.ts).
 */

/** The codes of one table. */
export type CodeOf<T extends Record<string, string>> = keyof T & string;

export const CONFIG_CODES = {
  CONFIG_INVALID: "the config (or another input file) has problems; each is listed as `path: message`",
} as const;

export const INPUT_CODES = {
  INPUT_TOO_LARGE: "an input file (config, state file, model bundle, key) is larger than its documented cap and was not read",
  INPUT_UNREADABLE: "an input file (key, certificate, state) cannot be opened; the message names it and what to do",
  KEY_FILE_INVALID: "a key file holds no key otgw can read (not PEM, damaged, or the wrong kind); the message names it",
  CERT_FILE_INVALID: "a certificate file holds no X.509 certificate otgw can read; the message names it",
  STATE_FILE_INVALID: "a JSON state file does not parse (damaged or edited by hand); the message names it and what to do",
} as const;

export const ENVELOPE_CODES = {
  ENVELOPE_OPTION: "a sealer option is out of range (checkpoint interval, ids, sizes)",
  ENVELOPE_SCHEMA: "a schema id is not valid in a frame header",
  ENVELOPE_SIZE: "a record is larger than one frame may carry",
  RECORD_INVALID: "a record cannot be encoded (non-finite number, unsupported type)",
  RECORD_NOT_JSON: "a record is not representable as canonical JSON",
  SESSION_CLOSED: "a frame was sealed on a session that has ended",
  SESSION_EXHAUSTED: "a session ran out of sequence numbers: open a new one",
} as const;

export const QUEUE_CODES = {
  QUEUE_CLOSED: "the queue was used after close()",
  QUEUE_FULL: "the disk under the queue is full",
  QUEUE_IO: "the queue's database could not be read or written",
  QUEUE_ITEM: "an item is not valid for the queue (size, class, stream)",
  QUEUE_OPEN: "the queue file cannot be opened",
  QUEUE_PERMISSION: "the gateway's user may not read or write the queue file or its directory: fix owner or mode, never move the file aside",
  QUEUE_SCHEMA: "the queue file's schema is newer than this gateway, or damaged",
} as const;

export const RUNTIME_CODES = {
  GATEWAY_NOT_RUNNING: "an operation that needs a started gateway was called before start() or after stop()",
  UPLINK_SWITCHING: "an uplink identity switch was asked for while another one is under way",
  UPLINK_SWITCH_FAILED: "the new identity's connection failed; the old one stays in use",
  STATE_DIR_BUSY: "another gateway runs on this state directory (the message names its pid): stop it, or give this one its own stateDir",
  STATE_DIR_LOCK: "the state directory's lock file cannot be created or opened (permissions, or a file that is not the lock)",
  PROJECT_ROOT_MISSING: "the installation's package.json cannot be found above the running module",
  HELD_STORE: "the file that holds readings while the certificate is not valid cannot be opened",
  RUNTIME_INVARIANT: "an internal invariant was broken (a bug): report it with the log",
} as const;

export const SOURCE_CODES = {
  SOURCE_KIND_UNKNOWN: "the config names a source kind this build has no adapter for",
  GPIO_UNAVAILABLE: "the GPIO backend cannot reach the line (no sysfs, no FFI binding, an unexpected errno)",
  GPIO_CHIP_MISSING: "the configured GPIO chip (/dev/gpiochipN, or its sysfs directory for onoff) does not exist",
  GPIO_PERMISSION: "the gateway's user may not open the GPIO chip: gpio group (udev rule) and DeviceAllow=char-gpiochip",
  GPIO_LINE_BUSY: "the GPIO line is held by another consumer (kernel driver or process)",
  GPIO_LINE_INVALID: "the configured line offset is not on the chip",
  GPIO_NOT_A_CHIP: "the configured chip path is not a GPIO character device",
  GPIO_SYSFS_READONLY: "onoff needs a writable /sys/class/gpio (not under the service's ProtectSystem=strict): use backend chardev",
  MODBUS_CONNECT: "the Modbus peer or serial device could not be opened",
  OPCUA_NO_CERTIFICATE: "the OPC UA server offered no certificate for a secured endpoint",
  OPCUA_NO_ENDPOINT: "the OPC UA server offers no endpoint with the configured security policy and mode",
  OPCUA_SERVER_UNTRUSTED: "the OPC UA server's certificate is not in the trust store: `otgw trust opcua trust`",
  OPCUA_TRUST_UNKNOWN: "no certificate with that thumbprint is in the OPC UA trust store",
  OPCUA_UNREACHABLE: "the OPC UA endpoint could not be reached",
} as const;

export const AUDIT_CODES = {
  AUDIT_CLOSED: "the audit log was written after close()",
  AUDIT_TAIL_INVALID: "the audit log's last entries do not verify: keep the file as evidence and run `otgw audit verify`",
  AUDIT_TAIL_UNAUTHENTICATED: "the audit log ends in entries no checkpoint by the gateway's key signs (appended by someone else): the gateway does not sign over them",
  AUDIT_UPSTREAM_INVALID: "the upstream copy of the audit stream (receiver database or export) could not be read or names no single gateway",
} as const;

export const IDENTITY_CODES = {
  CERT_EXPIRED: "the gateway certificate has expired: renew it (`otgw identity renew`)",
  CERT_INVALID: "the gateway certificate cannot be parsed or does not fit the key",
  CERT_KEY_MISMATCH: "the certificate does not belong to the identity key",
  CERT_NOT_YET_VALID: "the gateway certificate is not valid yet (check the clock)",
  IDENTITY_BUSY: "another renewal or rotation holds the identity lock",
  IDENTITY_FILE: "an identity file (certificate, chain, key blob) is missing or unreadable",
  RENEW_FAILED: "renewing the certificate failed; the current one stays in use",
  ROTATE_NEEDS_TPM: "key rotation needs a TPM identity",
  SOFTWARE_KEY_REFUSED: "production mode refuses a software key unless overridden with a reason",
} as const;

export const KEYSTORE_CODES = {
  KEY_EXISTS: "a key of that name exists already; keys are never silently replaced",
  KEY_MISSING: "no key of that name exists: provision one (`otgw provision`)",
  KEY_NAME_INVALID: "a key name has characters a keystore cannot hold",
  KEY_TYPE: "the key file holds a key of the wrong type (ES256 needs EC P-256)",
} as const;

export const TPM_CODES = {
  TPM_CLOSED: "the TPM context was used after close()",
  TPM_COMMAND: "a TPM command returned an error code (the message names the command and what it means)",
  TPM_FFI_MISSING: "koffi, the FFI the TPM keystore uses, cannot be loaded",
  TPM_KEYFILE: "a TSS2 key file cannot be read",
  TPM_KEY_EXPORTABLE: "the TPM key's attributes would let it leave the TPM",
  TPM_KEY_FOREIGN: "the key blob was made by another TPM",
  TPM_KEY_TYPE: "the TPM key is not an ECC P-256 signing key",
  TPM_LIB_MISSING: "the tpm2-tss libraries are not installed",
  TPM_PROVIDER_LOAD: "OpenSSL's tpm2 provider would not load in this Node process",
  TPM_PROVIDER_MISSING: "OpenSSL's tpm2 provider (Debian tpm2-openssl) is not installed",
  TPM_PROVIDER_NOT_LOADED: "the TPM TLS path runs without the tpm2 provider",
  TPM_PROVIDER_SIGN: "the tpm2 provider could not sign with the key",
  TPM_SIGNATURE: "a TPM signature is not well formed",
  TPM_UNREACHABLE: "the TPM cannot be reached through the configured TCTI",
  TPM_WIRE: "a TPM structure is malformed",
  SWTPM_MISSING: "swtpm is not installed (development and tests only)",
  SWTPM_SETUP: "swtpm_setup failed to make the software TPM's state",
  SWTPM_START: "swtpm did not start",
  TABRMD_START: "tpm2-abrmd did not start",
  SIDECAR_FAILED: "the TPM TLS sidecar did not come up",
} as const;

export const ATTEST_CODES = {
  ATTESTATION_REQUIRED: "the EST server requires TPM attestation before it issues a certificate",
  EK_CERT_MISSING: "the TPM holds no EK certificate in NV",
  EK_CHAIN_UNTRUSTED: "the EK certificate does not chain to a trusted TPM manufacturer root",
  EK_MISMATCH: "the EK public area is not the certified one, or not the one enrolled before",
  ID_MISMATCH: "the gateway id asked for is not the one attested or certified",
  KEY_EXPORTABLE: "the identity key's attributes would let it leave the TPM",
  KEY_MISMATCH: "the CSR's key is not the attested key",
  KEY_NOT_IN_TPM: "the identity key could not be proven to live in the attested TPM",
  QUOTE_REQUIRED: "the fleet CA requires a TPM quote of the boot state (production) and the request carried none",
  QUOTE_MALFORMED: "the boot-state quote does not parse (not a TPMS_ATTEST of a quote, or fields missing)",
  QUOTE_SIGNATURE: "the quote's signature does not verify with the gateway's attestation key",
  QUOTE_NONCE: "the quote does not carry a nonce this verifier issued to this gateway (other, used or expired: a replay)",
  QUOTE_PCR_DIGEST: "the PCR values reported are not the ones the TPM quoted (their SHA-256 is not the signed pcrDigest)",
  QUOTE_AK_UNBOUND: "the attestation key is not a restricted TPM key bound to this gateway's EK by credential activation",
  BOOT_STATE_MISMATCH: "the quoted PCRs match no active boot policy; the message names the PCRs that differ and the closest policy",
  BOOT_POLICY_MISSING: "quotes are required but the fleet CA has no active boot policy to check them against",
  BOOT_POLICY_INVALID: "a boot policy file does not follow docs/boot-policy.md; the message names the file and field",
} as const;

export const EST_CODES = {
  CERT_REVOKED: "the client certificate has been revoked",
  CLIENT_CERT_INVALID: "the client certificate is not a valid certificate of this fleet CA: enroll again",
  CLIENT_CERT_REQUIRED: "re-enrollment needs the current client certificate",
  CSR_INVALID: "the CSR does not parse, is not signed by its key, or asks for the wrong name",
  EST_BAD_REQUEST: "the EST request is malformed",
  EST_CA_FINGERPRINT: "the EST server's CA does not match the fingerprint the fleet operator gave",
  EST_INTERNAL: "the EST server failed; its log says why",
  EST_NOT_CONFIGURED: "no EST server is configured for this gateway",
  EST_REFUSED: "the EST server refused the request without a code this client knows",
  EST_RESPONSE: "the EST server's answer is not what RFC 7030 says it should be",
  EST_TRUST: "the EST server's TLS certificate is not trusted",
  EST_UNREACHABLE: "the EST server cannot be reached",
} as const;

export const CA_CODES = {
  CA_EXISTS: "a fleet CA exists already in that directory",
  CA_MISSING: "no fleet CA in that directory: `otgw ca init`",
  CRL_UNAVAILABLE: "no CRL could be read; everything counts as revoked until one verifies",
  CRL_UNTRUSTED: "the CRL is not signed by a fleet CA",
  KEY_REUSED: "the key was issued to another gateway before; keys are never shared",
  UNKNOWN_GATEWAY: "the gateway is not in the CA's inventory",
} as const;

export const PKI_CODES = {
  PKI_KEY: "the key cannot be used to issue or be certified",
  PKI_NAME: "a name (gateway id, subject) is not valid in a certificate",
  PKI_SERIAL: "a fixed certificate serial is not 1 to 40 hex digits",
  PKI_VALIDITY: "the validity period asked for is not possible",
} as const;

export const INGEST_CODES = {
  INGEST_CA_FILE: "the fleet CA file given to the receiver holds no PEM certificate",
  INGEST_STORE: "the receiver's evidence store could not be opened or written",
  INGEST_SUBSCRIBE: "the broker refused the receiver's subscription (check the receiver's ACL)",
  TRACE_BAD_ID: "a trace id is not of the form gateway/stream/session/seq",
  TRACE_NOT_FOUND: "nothing with that id is in the evidence store",
} as const;

export const BROKER_CODES = {
  BROKER_ACL: "the broker's ACL file could not be written",
  BROKER_MISSING: "mosquitto is not installed",
  BROKER_RELOAD: "the broker could not be reloaded (SIGHUP)",
  BROKER_START: "mosquitto did not start",
} as const;

export const DEVKIT_CODES = {
  DEVKIT_TOOL_MISSING: "a Debian package the dev kit needs is not installed (scripts/setup.sh installs it)",
  DEVKIT_PEER_START: "a dev-plant peer (libmodbus server, socat) did not start",
  DEVKIT_TIMEOUT: "a condition the dev kit waited for did not come true in time",
  DEVKIT_RELAY: "the delaying TCP relay was given bad timing or could not listen",
  DEVKIT_NETNS: "a test network namespace, its veth pair or its nftables rules could not be set up",
} as const;

export const UPDATE_CODES = {
  UPDATE_SIGNATURE: "an update bundle's signature does not verify against the gateway's RAUC keyring (another key, or altered)",
  UPDATE_INCOMPATIBLE: "an update bundle is for another system (its compatible string differs from RAUC's system.conf)",
  UPDATE_DOWNGRADE: "an update bundle's version is not newer than the running one; --allow-downgrade installs it anyway, audited",
  UPDATE_BUNDLE_INVALID: "an update bundle cannot be read (missing, truncated, not a RAUC bundle, no or bad version)",
  UPDATE_RELEASE_UNKNOWN: "the running release's version (/usr/lib/otgw/release) cannot be read, so anti-rollback cannot decide",
  UPDATE_RAUC_FAILED: "RAUC failed (install, status): the message carries RAUC's own last lines",
  UPDATE_RAUC_MISSING: "the rauc program is not installed (Debian package rauc)",
} as const;
