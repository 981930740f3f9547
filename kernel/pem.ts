import { createPrivateKey, createPublicKey, X509Certificate, type KeyObject } from "node:crypto";
import { errorText, InputFileError } from "./errors.js";
import { INPUT_LIMITS, readCappedFile } from "./input-file.js";

/**
 * Reading keys and certificates from files so that a bad file is named. OpenSSL's own errors
 * ("error:1E08010C:DECODER routines::unsupported") say neither which file nor what to do; every read
 * here throws InputFileError with the file, what it is for, why it failed and the fix the caller gives.
 * Files are capped at INPUT_LIMITS.pem. Nothing of the file's content is ever put in a message.
 */

/** What a file is for, in the words of its message: `what` names it, `fix` says what to do. */
export interface FileRole {
  /** e.g. `the receiver's private key (receiver.keyFile)`. */
  what: string;
  /** e.g. "make a new pair with `otgw receiver keygen`". */
  fix: string;
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]+?-----END \1-----/g;

/** The file's bytes (capped), or InputFileError INPUT_UNREADABLE naming it. */
export function readInputBytes(file: string, role: FileRole): Buffer {
  try {
    return readCappedFile(file, { maxBytes: INPUT_LIMITS.pem, what: role.what });
  } catch (err) {
    if (err instanceof InputFileError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "it does not exist" : code === "EACCES" ? "permission denied" : code === "EISDIR" ? "it is a directory" : errorText(err);
    throw new InputFileError("INPUT_UNREADABLE", `cannot read ${role.what} ${file}: ${why}; ${role.fix}`, { cause: err });
  }
}

/** Why text that should hold a PEM block of `label` did not parse, without quoting any of it. */
function why(bytes: Buffer, err: unknown): string {
  const text = bytes.toString("latin1");
  if (bytes.length === 0) return "the file is empty";
  if (!text.includes("-----BEGIN ")) return "it holds no PEM block (-----BEGIN …-----)";
  return `OpenSSL: ${errorText(err)}`;
}

/** A private key (PKCS#8, SEC1 or PKCS#1 PEM) parsed from `bytes` read from `file`. */
function parsePrivateKey(bytes: Buffer, file: string, role: FileRole): KeyObject {
  try {
    return createPrivateKey(bytes);
  } catch (err) {
    throw new InputFileError("KEY_FILE_INVALID", `${role.what} ${file} is not a private key otgw can read (${why(bytes, err)}); ${role.fix}`);
  }
}

/** The private key in `file` (PEM). */
export function readPrivateKeyFile(file: string, role: FileRole): KeyObject {
  return parsePrivateKey(readInputBytes(file, role), file, role);
}

/** The PEM text of `file` once it has been checked to hold a private key (for TLS options and libraries that take PEM). */
export function readPrivateKeyPem(file: string, role: FileRole): string {
  const bytes = readInputBytes(file, role);
  parsePrivateKey(bytes, file, role);
  return bytes.toString("utf8");
}

/** The public key in `file`: SPKI PEM, or the key of a PEM certificate. */
export function readPublicKeyFile(file: string, role: FileRole): KeyObject {
  const bytes = readInputBytes(file, role);
  try {
    return createPublicKey(bytes);
  } catch (err) {
    throw new InputFileError("KEY_FILE_INVALID", `${role.what} ${file} is not a public key otgw can read (${why(bytes, err)}); ${role.fix}`);
  }
}

/** The certificate in `file` (PEM or DER; with several PEM certificates, the first). */
export function readCertificateFile(file: string, role: FileRole): X509Certificate {
  const bytes = readInputBytes(file, role);
  try {
    return new X509Certificate(bytes);
  } catch (err) {
    const isPem = bytes.toString("latin1").includes("-----BEGIN ");
    throw new InputFileError("CERT_FILE_INVALID", `${role.what} ${file} is not an X.509 certificate otgw can read (${isPem ? `OpenSSL: ${errorText(err)}` : "neither PEM nor DER"}); ${role.fix}`);
  }
}

/**
 * Every certificate of a PEM bundle (a CA file, a chain), each checked; at least one. A block that does
 * not parse is named by its position, so a damaged chain is found without opening the file.
 */
function parseBundle(bytes: Buffer, file: string, role: FileRole): X509Certificate[] {
  const blocks = [...bytes.toString("utf8").matchAll(PEM_BLOCK)].filter((m) => m[1] === "CERTIFICATE" || m[1] === "TRUSTED CERTIFICATE");
  if (blocks.length === 0) {
    throw new InputFileError("CERT_FILE_INVALID", `${role.what} ${file} holds no PEM certificate (-----BEGIN CERTIFICATE-----); ${role.fix}`);
  }
  return blocks.map((b, i) => {
    try {
      return new X509Certificate(b[0]);
    } catch (err) {
      throw new InputFileError("CERT_FILE_INVALID", `${role.what} ${file}: certificate ${i + 1} of ${blocks.length} does not parse (OpenSSL: ${errorText(err)}); ${role.fix}`);
    }
  });
}

/** The PEM text of `file` once every certificate in it has been checked (for TLS `ca`/`cert` options). */
export function readCertificatePem(file: string, role: FileRole): string {
  const bytes = readInputBytes(file, role);
  parseBundle(bytes, file, role);
  return bytes.toString("utf8");
}
