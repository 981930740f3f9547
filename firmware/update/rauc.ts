import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { UpdateError } from "../../kernel/errors.js";

/** What `rauc info` says of a bundle whose signature verified against the keyring. */
export interface BundleInfo {
  readonly compatible: string;
  /** The manifest's version, as written (checked by the caller). */
  readonly version: string;
  readonly build: string | null;
}

/** One slot as `rauc status --detailed` reports it. */
export interface SlotStatus {
  /** RAUC's slot name, e.g. rootfs.0. */
  readonly name: string;
  readonly bootname: string | null;
  /** booted | active | inactive. */
  readonly state: string;
  /** good | bad, from the bootloader backend; null when RAUC could not tell. */
  readonly bootStatus: string | null;
  /** Version of the bundle last written to the slot; null for the slot flashed with the image. */
  readonly version: string | null;
}

/** `rauc status`: which slot booted, which boots next, and every slot. */
export interface RaucStatus {
  readonly compatible: string;
  readonly booted: string | null;
  /** The slot name the bootloader boots next. */
  readonly primary: string | null;
  readonly slots: readonly SlotStatus[];
}

export interface RaucOptions {
  /** RAUC's system config (the keyring and compatible come from it); default /etc/rauc/system.conf. */
  readonly config?: string;
  /** The rauc program; default `rauc` on PATH. */
  readonly binary?: string;
  /** Extra environment (tests: the D-Bus system bus of their own rauc service). */
  readonly env?: Readonly<Record<string, string>>;
}

/** RAUC's command line, the one way otgw talks to the update engine (docs/update.md). */
export class Rauc {
  readonly config: string;
  private readonly binary: string;
  private readonly env: NodeJS.ProcessEnv;

  constructor(opts: RaucOptions = {}) {
    this.config = opts.config ?? "/etc/rauc/system.conf";
    this.binary = opts.binary ?? "rauc";
    this.env = { ...process.env, ...opts.env };
  }

  /** The `compatible` of `[system]` in RAUC's system config: what a bundle must name to be installed here. */
  compatible(): string {
    let text: string;
    try {
      text = readFileSync(this.config, "utf8");
    } catch (err) {
      throw new UpdateError("UPDATE_RAUC_FAILED", `RAUC system config ${this.config} cannot be read (${(err as Error).message}): is this an otgw image with RAUC?`, { cause: err });
    }
    let section = "";
    for (const raw of text.split("\n")) {
      const line = raw.trim();
      const s = /^\[(.+)\]$/.exec(line);
      if (s) section = s[1] ?? "";
      const kv = /^compatible\s*=\s*(.+)$/.exec(line);
      if (section === "system" && kv) return (kv[1] ?? "").trim();
    }
    throw new UpdateError("UPDATE_RAUC_FAILED", `RAUC system config ${this.config}: no compatible= in [system]`);
  }

  /** Verifies the bundle's signature against the keyring and reads its manifest. */
  async info(bundle: string): Promise<BundleInfo> {
    const r = await this.run(["info", "--output-format=json", bundle]);
    if (r.code !== 0) {
      const why = lastLines(r.stderr);
      const code = /signature verification failed|verify error|signature.*invalid/i.test(r.stderr) ? "UPDATE_SIGNATURE" : "UPDATE_BUNDLE_INVALID";
      const what = code === "UPDATE_SIGNATURE" ? "is not signed by a key in the gateway's RAUC keyring" : "cannot be read as a RAUC bundle";
      throw new UpdateError(code, `update bundle ${bundle} ${what} (RAUC: ${why})`);
    }
    let doc: { compatible?: unknown; version?: unknown; build?: unknown };
    try {
      doc = JSON.parse(r.stdout) as typeof doc;
    } catch (err) {
      throw new UpdateError("UPDATE_RAUC_FAILED", `rauc info ${bundle}: output is not JSON`, { cause: err });
    }
    if (typeof doc.compatible !== "string") throw new UpdateError("UPDATE_BUNDLE_INVALID", `update bundle ${bundle}: its manifest has no compatible`);
    if (typeof doc.version !== "string") throw new UpdateError("UPDATE_BUNDLE_INVALID", `update bundle ${bundle}: its manifest has no version (anti-rollback needs one)`);
    return { compatible: doc.compatible, version: doc.version, build: typeof doc.build === "string" ? doc.build : null };
  }

  /** Writes the bundle to the other slot and makes it primary (RAUC's service does the work). */
  async install(bundle: string): Promise<void> {
    const r = await this.run(["install", bundle]);
    if (r.code !== 0) throw new UpdateError("UPDATE_RAUC_FAILED", `rauc install ${bundle} failed: ${lastLines(r.stdout + "\n" + r.stderr)}`);
  }

  /** Both slots, which one booted and which one is primary. */
  async status(): Promise<RaucStatus> {
    const r = await this.run(["status", "--detailed", "--output-format=json"]);
    if (r.code !== 0) throw new UpdateError("UPDATE_RAUC_FAILED", `rauc status failed: ${lastLines(r.stderr)}`);
    try {
      return parseStatus(r.stdout);
    } catch (err) {
      throw new UpdateError("UPDATE_RAUC_FAILED", `rauc status: output is not the JSON RAUC 1.8 writes (${(err as Error).message})`, { cause: err });
    }
  }

  private run(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
      execFile(this.binary, ["-c", this.config, ...args], { env: this.env, maxBuffer: 4 << 20 }, (err, stdout, stderr) => {
        if (err && (err as NodeJS.ErrnoException).code === "ENOENT") {
          reject(new UpdateError("UPDATE_RAUC_MISSING", `${this.binary} is not installed: install the Debian package rauc`, { cause: err }));
          return;
        }
        const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      });
    });
  }
}

/** Parses `rauc status --detailed --output-format=json` (RAUC 1.8). */
export function parseStatus(text: string): RaucStatus {
  const doc = JSON.parse(text) as { compatible?: unknown; booted?: unknown; boot_primary?: unknown; slots?: unknown };
  if (!Array.isArray(doc.slots)) throw new Error("no slots array");
  const slots: SlotStatus[] = [];
  for (const entry of doc.slots as Array<Record<string, Record<string, unknown>>>) {
    for (const [name, s] of Object.entries(entry)) {
      const bundle = (s.slot_status as { bundle?: { version?: unknown } } | undefined)?.bundle;
      slots.push({
        name,
        bootname: typeof s.bootname === "string" ? s.bootname : null,
        state: typeof s.state === "string" ? s.state : "unknown",
        bootStatus: typeof s.boot_status === "string" ? s.boot_status : null,
        version: typeof bundle?.version === "string" ? bundle.version : null,
      });
    }
  }
  slots.sort((a, b) => a.name.localeCompare(b.name));
  return {
    compatible: typeof doc.compatible === "string" ? doc.compatible : "",
    booted: typeof doc.booted === "string" ? doc.booted : null,
    primary: typeof doc.boot_primary === "string" ? doc.boot_primary : null,
    slots,
  };
}

/** RAUC's own words for a failure: its last non-log lines (its `rauc-Message:` chatter left out). */
function lastLines(text: string): string {
  const lines = text.split("\n").map((l) => l.trim()).filter((l) => l !== "" && !/^rauc-Message:|^\(rauc:\d+\)/.test(l));
  return lines.slice(-2).join("; ") || "no message";
}
