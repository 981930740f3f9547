// The gateway's self-test, shipped at /opt/otgw/selftest.mjs: proves that this Node can run the
// installed project on this architecture. It checks the site config with the gateway's own checker,
// and loads and exercises every native module (better-sqlite3 with WAL, koffi calling libc, the
// serialport and epoll bindings), plus, with --tpm-libs, that the TPM ESAPI libraries load.
// Usage: node /opt/otgw/selftest.mjs --config FILE [--tpm-libs]   (exit 0 only when all pass)
import { createRequire } from "node:module";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const here = new URL(".", import.meta.url);
const require = createRequire(new URL("package.json", here));
const args = process.argv.slice(2);
const config = args[args.indexOf("--config") + 1];
if (!args.includes("--config") || !config) { console.error("usage: selftest.mjs --config FILE [--tpm-libs]"); process.exit(2); }

const results = [];
async function check(name, fn) {
  try { results.push([name, true, String(await fn())]); } catch (e) { results.push([name, false, e instanceof Error ? e.message : String(e)]); }
}

await check("node", () => {
  if (process.versions.modules !== "115") throw new Error(`NODE_MODULE_VERSION ${process.versions.modules}, the native modules were built for 115 (Node 20)`);
  return `${process.version} ${process.arch} abi ${process.versions.modules}`;
});
await check("site config", async () => {
  const { loadConfig } = await import(new URL("dist/firmware/config/load.js", here).href);
  const c = loadConfig(config).config;
  return `${config}: gateway ${c.gateway.id} (${c.gateway.mode}), ${c.sources.length} source(s)`;
});
await check("better-sqlite3", () => {
  const Database = require("better-sqlite3");
  const dir = mkdtempSync(join(tmpdir(), "otgw-selftest-"));
  try {
    const db = new Database(join(dir, "t.db"));
    const mode = db.pragma("journal_mode = WAL", { simple: true });
    db.exec("CREATE TABLE t (k INTEGER PRIMARY KEY, v BLOB)");
    const ins = db.prepare("INSERT INTO t (v) VALUES (?)");
    db.transaction(() => { for (let i = 0; i < 100; i++) ins.run(Buffer.alloc(32, i)); })();
    const row = db.prepare("SELECT count(*) AS n, sum(length(v)) AS b FROM t").get();
    const ver = db.prepare("SELECT sqlite_version() AS v").get().v;
    db.close();
    if (mode !== "wal" || row.n !== 100 || row.b !== 3200) throw new Error(`unexpected result: journal ${mode}, ${row.n} rows, ${row.b} bytes`);
    return `sqlite ${ver}, WAL, 100 rows written and read`;
  } finally { rmSync(dir, { recursive: true, force: true }); }
});
await check("koffi", () => {
  const koffi = require("koffi");
  const getpid = koffi.load("libc.so.6").func("int getpid()");
  const pid = getpid();
  if (pid !== process.pid) throw new Error(`getpid() through koffi returned ${pid}, process.pid is ${process.pid}`);
  return `koffi ${koffi.version ?? ""} called libc getpid() = ${pid}`;
});
await check("serialport binding", async () => {
  const { autoDetect } = require("@serialport/bindings-cpp");
  const ports = await autoDetect().list();
  return `native binding loaded, ${ports.length} serial port(s) listed`;
});
await check("epoll (onoff)", () => {
  const { Epoll } = require("epoll");
  if (typeof Epoll !== "function") throw new Error("epoll binding has no Epoll class");
  return "native binding loaded";
});
if (args.includes("--tpm-libs")) {
  await check("tpm2-tss", () => {
    const koffi = require("koffi");
    for (const lib of ["libtss2-esys.so.0", "libtss2-tctildr.so.0", "libtss2-tcti-device.so.0"]) koffi.load(lib);
    return "libtss2-esys, -tctildr, -tcti-device load";
  });
}

for (const [name, ok, detail] of results) console.log(`selftest: ${ok ? "OK  " : "FAIL"} ${name}: ${detail}`);
const failed = results.filter((r) => !r[1]).length;
console.log(`selftest: ${failed === 0 ? "passed" : "FAILED"} ${results.length - failed}/${results.length}`);
process.exit(failed === 0 ? 0 : 1);
