// Writes the image's SBOM as CycloneDX 1.5 JSON: every Debian package (from the image's dpkg
// database) and every npm package under /opt/otgw/node_modules, with package URLs. Deterministic:
// the timestamp is SOURCE_DATE_EPOCH and the serial number is derived from the content.
// Usage: node sbom.mjs --arch A --packages packages.tsv --node-modules DIR --project package.json --out FILE
import { readFileSync, readdirSync, existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createHash } from "node:crypto";

const arg = (n) => { const i = process.argv.indexOf(`--${n}`); const v = i > 0 ? process.argv[i + 1] : undefined; if (!v) { console.error(`sbom.mjs: --${n} is required`); process.exit(2); } return v; };
const arch = arg("arch"), pkgs = arg("packages"), nm = arg("node-modules"), projectFile = arg("project"), out = arg("out");
const sde = Number(process.env.SOURCE_DATE_EPOCH);
if (!Number.isInteger(sde)) { console.error("sbom.mjs: SOURCE_DATE_EPOCH must be set"); process.exit(2); }

const components = [];
for (const line of readFileSync(pkgs, "utf8").split("\n")) {
  if (!line) continue;
  const [name, version, a, src, srcVersion] = line.split("\t");
  const purl = `pkg:deb/debian/${name}@${encodeURIComponent(version)}?arch=${a}&distro=debian-13`;
  const c = { type: "library", "bom-ref": purl, name, version, purl, properties: [{ name: "debian:architecture", value: a }] };
  if (src) c.properties.push({ name: "debian:source", value: `${src} ${srcVersion || version}` });
  components.push(c);
}
const seen = new Set();
(function walk(dir) {
  if (!existsSync(dir)) return;
  for (const entry of readdirSync(dir).sort()) {
    if (entry.startsWith(".")) continue;
    if (entry.startsWith("@")) { walk(join(dir, entry)); continue; }
    const pj = join(dir, entry, "package.json");
    if (existsSync(pj)) {
      const p = JSON.parse(readFileSync(pj, "utf8"));
      if (p.name && p.version) {
        const scoped = p.name.startsWith("@") ? `%40${p.name.slice(1)}` : p.name;
        const purl = `pkg:npm/${scoped}@${p.version}`;
        if (!seen.has(purl)) {
          seen.add(purl);
          const c = { type: "library", "bom-ref": purl, name: p.name, version: p.version, purl };
          const lic = typeof p.license === "string" ? p.license : p.license?.type;
          if (lic) c.licenses = [{ expression: lic }];
          components.push(c);
        }
      }
    }
    walk(join(dir, entry, "node_modules"));
  }
})(nm);

const project = JSON.parse(readFileSync(projectFile, "utf8"));
const bom = {
  bomFormat: "CycloneDX",
  specVersion: "1.5",
  version: 1,
  metadata: {
    timestamp: new Date(sde * 1000).toISOString(),
    tools: { components: [{ type: "application", name: "otgw image/build.sh" }] },
    component: { type: "firmware", "bom-ref": `otgw-image-${arch}`, name: `otgw-${arch}.img`, version: project.version,
      description: `otgw gateway OS image (Debian 13 trixie, ${arch})`, licenses: [{ expression: project.license }] },
  },
  components,
};
bom.serialNumber = `urn:uuid:${uuidFrom(JSON.stringify(bom))}`;
writeFileSync(out, `${JSON.stringify(bom, null, 2)}\n`);
const deb = components.filter((c) => c.purl.startsWith("pkg:deb")).length;
console.error(`otgw image: SBOM ${out}: ${deb} Debian and ${components.length - deb} npm packages`);

function uuidFrom(text) {
  const h = createHash("sha256").update(text).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h[16], 16) & 3) | 8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
