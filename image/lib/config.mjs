// Reads and checks an image build config (YAML), printing shell assignments for build.sh to eval.
// Every problem is reported at once, naming the field. Usage: node config.mjs CONFIG
import { readFileSync, existsSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { createRequire } from "node:module";

const require = createRequire(new URL("../../package.json", import.meta.url));
const { parse } = require("yaml");

const file = process.argv[2];
if (!file) { console.error("usage: config.mjs BUILD-CONFIG"); process.exit(2); }
let doc;
try { doc = parse(readFileSync(file, "utf8")) ?? {}; } catch (e) {
  console.error(`image build config ${file}: cannot read or parse: ${e.message}`); process.exit(1);
}
const errors = [];
const known = ["hostname", "siteConfig", "mirror", "dataSizeMiB", "ssh", "kernelArgs", "test", "update"];
for (const k of Object.keys(doc)) if (!known.includes(k)) errors.push(`${k}: unknown field (known: ${known.join(", ")})`);
const hostname = doc.hostname ?? "otgw";
if (typeof hostname !== "string" || !/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(hostname)) errors.push("hostname: must be a DNS label (a-z, 0-9, -)");
const site = doc.siteConfig;
let sitePath = "";
if (typeof site !== "string") errors.push("siteConfig: required, path of the gateway config to bake at /etc/otgw/config.yaml");
else { sitePath = resolve(dirname(file), site); if (!existsSync(sitePath)) errors.push(`siteConfig: ${sitePath} does not exist`); }
const mirror = doc.mirror ?? "http://deb.debian.org/debian";
if (typeof mirror !== "string" || !/^(https?|file):\/\/\S+$/.test(mirror)) errors.push("mirror: must be an http(s):// or file:// URL");
const dataSize = doc.dataSizeMiB ?? 512;
if (!Number.isInteger(dataSize) || dataSize < 128) errors.push("dataSizeMiB: an integer of at least 128");
const keys = doc.ssh?.authorizedKeys ?? [];
if (!Array.isArray(keys)) errors.push("ssh.authorizedKeys: a list of public key lines");
else keys.forEach((k, i) => {
  if (typeof k !== "string" || !/^(ssh-ed25519|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com|ssh-rsa) [A-Za-z0-9+/=]+( [^\n]*)?$/.test(k))
    errors.push(`ssh.authorizedKeys[${i}]: not an OpenSSH public key line`);
  if (typeof k === "string" && /PRIVATE KEY/.test(k)) errors.push(`ssh.authorizedKeys[${i}]: a private key: never put secrets in the build config`);
});
const kargs = doc.kernelArgs ?? [];
if (!Array.isArray(kargs) || kargs.some((a) => typeof a !== "string" || /\s/.test(a))) errors.push("kernelArgs: a list of single words");
const smoke = doc.test?.smoke === true;
// The RAUC update bundle for this build (docs/update.md "Bundle"): on unless `update.bundle: false`.
const update = doc.update ?? {};
if (typeof update !== "object" || Array.isArray(update)) errors.push("update: a map (bundle, version, signingKey, signingCert)");
for (const k of Object.keys(update)) if (!["bundle", "version", "signingKey", "signingCert"].includes(k)) errors.push(`update.${k}: unknown field (known: bundle, version, signingKey, signingCert)`);
const bundle = update.bundle ?? true;
if (typeof bundle !== "boolean") errors.push("update.bundle: true or false");
const pkgVersion = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")).version;
const version = update.version ?? pkgVersion;
if (typeof version !== "string" || !/^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/.test(version)) errors.push("update.version: MAJOR.MINOR.PATCH[-PRERELEASE] (default: package.json's version)");
const sign = {};
for (const k of ["signingKey", "signingCert"]) {
  const v = update[k];
  if (v === undefined) continue;
  if (typeof v !== "string") { errors.push(`update.${k}: a file path`); continue; }
  sign[k] = resolve(dirname(file), v);
  if (!existsSync(sign[k])) errors.push(`update.${k}: ${sign[k]} does not exist`);
}
if ((sign.signingKey === undefined) !== (sign.signingCert === undefined)) errors.push("update.signingKey and update.signingCert: give both (the release key and its certificate) or neither (the build makes a throw-away key)");
if (errors.length) {
  for (const e of errors) console.error(`image build config ${file}: ${e}`);
  process.exit(1);
}
const q = (s) => `'${String(s).replace(/'/g, `'\\''`)}'`;
console.log(`CFG_HOSTNAME=${q(hostname)}`);
console.log(`CFG_SITE_CONFIG=${q(sitePath)}`);
console.log(`CFG_MIRROR=${q(mirror)}`);
console.log(`CFG_DATA_MIB=${dataSize}`);
console.log(`CFG_SSH_KEYS=${q(keys.join("\n"))}`);
console.log(`CFG_KERNEL_ARGS=${q(kargs.join(" "))}`);
console.log(`CFG_SMOKE=${smoke ? 1 : 0}`);
console.log(`CFG_UPDATE_BUNDLE=${bundle === false ? 0 : 1}`);
console.log(`CFG_UPDATE_VERSION=${q(version)}`);
console.log(`CFG_UPDATE_KEY=${q(sign.signingKey ?? "")}`);
console.log(`CFG_UPDATE_CERT=${q(sign.signingCert ?? "")}`);
