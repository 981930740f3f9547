import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repoRoot } from "../../kernel/paths.js";

const root = repoRoot();
const otgw = (args: string[], nodeArgs: string[] = []): { status: number | null; stdout: string; stderr: string } => {
  const r = spawnSync(process.execPath, [...nodeArgs, join(root, "dist", "bin", "otgw.js"), ...args], { cwd: root, encoding: "utf8" });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
};
const dir = mkdtempSync(join(tmpdir(), "otgw-cli-"));

void test("otgw --version prints package.json's version", () => {
  const { version } = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string };
  const r = otgw(["--version"]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), version);
});

void test("--help and --version load no dependency but commander (the groups load theirs when run)", () => {
  // CommonJS packages (node-opcua, better-sqlite3, mqtt, pino, the ASN.1 libraries) land in require.cache
  // even when imported from ESM; print what is there when the process exits.
  const probe = join(dir, "loaded.cjs");
  writeFileSync(probe, `process.on("exit", () => process.stderr.write("LOADED " + JSON.stringify(Object.keys(require.cache)) + "\\n"));\n`);
  for (const args of [["--help"], ["--version"], ["model", "--help"]]) {
    const r = otgw(args, ["-r", probe]);
    assert.equal(r.status, 0, r.stderr);
    const line = r.stderr.split("\n").find((l) => l.startsWith("LOADED "));
    assert.ok(line, r.stderr);
    const packages = new Set((JSON.parse(line.slice("LOADED ".length)) as string[]).flatMap((p) => /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(p)?.[1] ?? []));
    assert.deepEqual([...packages], ["commander"], `otgw ${args.join(" ")}`);
  }
});

void test("a bad numeric option exits 2 with one line naming the option, before the command starts", () => {
  const cases: Array<[string[], string]> = [
    [["demo", "--messages", "abc", "--out", join(dir, "demo")], `otgw: --messages must be a positive integer, got "abc"`],
    [["run", "-c", join(dir, "none.yaml"), "--max-records", "-1"], `otgw: --max-records must be a positive integer, got "-1"`],
    [["service", "-c", join(dir, "none.yaml"), "--poll-ms", "1.5"], `otgw: --poll-ms must be a positive integer, got "1.5"`],
    [["ca", "init", "--dir", join(dir, "ca"), "--cert-days", "7d"], `otgw: --cert-days must be a positive integer, got "7d"`],
    [["ca", "serve", "--dir", join(dir, "ca"), "--port", "65536"], `otgw: --port must be an integer from 0 to 65535, got "65536"`],
    [["ingest", "--max-backlog-days", "0"], `otgw: --max-backlog-days must be an integer from 1 to 3650, got "0"`],
    [["model", "train", "-c", join(dir, "none.yaml"), "--out", join(dir, "train"), "--seconds", "1e3"], `otgw: --seconds must be a positive integer, got "1e3"`],
  ];
  for (const [args, message] of cases) {
    const r = otgw(args);
    assert.equal(r.status, 2, `otgw ${args.join(" ")}: ${r.stderr}`);
    assert.equal(r.stderr, `${message}\n`);
    assert.equal(r.stdout, "");
  }
  // Nothing ran: the demo and the CA did not create their directories.
  assert.equal(existsSync(join(dir, "demo")), false);
  assert.equal(existsSync(join(dir, "ca")), false);
});

void test("model verify --trusted K --trusted K2 BUNDLE: the repeatable option leaves the bundle alone", () => {
  const m = join(dir, "model");
  const json = (args: string[]): Record<string, unknown> => {
    const r = otgw(args);
    assert.equal(r.status, 0, `otgw ${args.join(" ")}: ${r.stderr}`);
    return JSON.parse(r.stdout.trim().split("\n").pop() ?? "") as Record<string, unknown>;
  };
  json(["model", "keygen", "--out", join(m, "signer")]);
  json(["model", "keygen", "--out", join(m, "other")]);
  // --version after the command word is the model's version, not the CLI's.
  json(["model", "train", "-c", join(root, "config", "examples", "sim-plant.yaml"), "--out", join(m, "train"), "--seconds", "120", "--version", "3"]);
  const signed = json(["model", "sign", "--artefact", join(m, "train", "model.json"), "--provenance", join(m, "train", "provenance.json"),
    "--key", join(m, "signer", "model-signer.key.pem"), "--out", join(m, "bundle.json")]);
  assert.equal(signed.version, 3);
  const signer = join(m, "signer", "model-signer.pub.pem");
  const other = join(m, "other", "model-signer.pub.pem");
  const v = json(["model", "verify", "--trusted", other, "--trusted", signer, join(m, "bundle.json")]);
  assert.equal(v.ok, true);
  assert.equal(v.version, 3);
  // The keys are really used: trusting only the other key refuses the bundle (exit 3, with the code).
  const refused = otgw(["model", "verify", "--trusted", other, join(m, "bundle.json")]);
  assert.equal(refused.status, 3, refused.stderr);
  assert.match(refused.stdout, /"code":"MODEL_UNTRUSTED_SIGNER"/);
});

/**
 * The installation the gateway image will carry: package.json and only the gateway's folders of dist/
 * (no fleet/, ingest/, devkit/, envelope/verify/), with the project's node_modules.
 */
function gatewayLayout(): string {
  const inst = mkdtempSync(join(tmpdir(), "otgw-gateway-layout-"));
  // The images' own staging rule (image/lib/stage-dist.sh), so this test sees what an image ships.
  const staged = spawnSync("bash", [join(root, "image", "lib", "stage-dist.sh"), join(root, "dist"), inst], { encoding: "utf8" });
  assert.equal(staged.status, 0, staged.stderr);
  cpSync(join(root, "package.json"), join(inst, "package.json"));
  symlinkSync(join(root, "node_modules"), join(inst, "node_modules"));
  return inst;
}

void test("in the gateway's layout only gateway groups are listed; the others say they are not part of it, exit 2", () => {
  const inst = gatewayLayout();
  const cli = (args: string[]) => spawnSync(process.execPath, [join(inst, "dist", "bin", "otgw.js"), ...args], { cwd: inst, encoding: "utf8" });
  const help = cli(["--help"]);
  assert.equal(help.status, 0, help.stderr);
  assert.match(help.stdout, /Gateway commands:/);
  for (const absent of ["ca", "ingest", "receiver", "demo", "dev"]) assert.doesNotMatch(help.stdout, new RegExp(`^\\s+${absent}\\b`, "m"), absent);
  for (const [args, what, who] of [[["ca", "init", "--dir", join(inst, "ca")], "ca", "fleet"], [["ingest", "--url", "x"], "ingest", "receiver"],
    [["demo", "--messages", "5"], "demo", "development"], [["dev", "up", "-c", "my.yaml"], "dev", "development"], [["model", "keygen", "--out", join(inst, "k")], "model keygen", "fleet"]] as const) {
    const r = cli([...args]);
    assert.equal(r.status, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.equal(r.stderr, `otgw: ${what} is not part of this installation (it is a ${who} command)\n`);
  }
  const check = cli(["config", "check", join(root, "config", "examples", "sim-plant.yaml")]);
  assert.equal(check.status, 0, check.stderr);
});

void test("every module the gateway layout ships loads without the receiver, fleet and dev-kit folders", () => {
  const inst = gatewayLayout();
  const shipped = readFileSync(join(inst, "SHIPPED"), "utf8").trim().split("\n");
  assert.ok(shipped.length > 100, `only ${shipped.length} files staged`);
  assert.deepEqual(shipped.filter((f) => /^dist\/(ingest|fleet|devkit|test|bench|scripts|envelope\/verify)\//.test(f) || /^dist\/bin\/(groups|commands)\/(?!gateway\/)/.test(f)), []);
  // Entry scripts run on import (the CLI, the TLS sidecar, the checkpoint worker thread): the CLI is run above.
  const modules = shipped.filter((f) => f.endsWith(".js") && !/(bin\/otgw|-main|checkpoint-worker)\.js$/.test(f));
  const probe = `const failed = [];
for (const m of ${JSON.stringify(modules)}) {
  try { await import(new URL(m, ${JSON.stringify(`file://${inst}/`)}).href); } catch (e) { failed.push(m + ": " + e.message.split("\\n")[0]); }
}
console.log(JSON.stringify(failed));`;
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", probe], { cwd: inst, encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout.trim().split("\n").pop() ?? "[]"), [], "modules that do not load in the gateway's layout");
});
