import { createHash } from "node:crypto";
import { createReadStream, readFileSync } from "node:fs";
import { UpdateError } from "../../kernel/errors.js";
import { AUDIT_EVENTS } from "../audit/events.js";
import type { Rauc } from "./rauc.js";
import { recordInstall, type UpdateAudit } from "./boot-record.js";
import { compareVersions, parseVersion } from "./version.js";

/** Where the running root says which release it is (written by the image build: `version=X.Y.Z`). */
export const RELEASE_FILE = "/usr/lib/otgw/release";

export interface InstallRequest {
  readonly bundle: string;
  readonly rauc: Rauc;
  readonly audit: UpdateAudit;
  /** Installs a version that is not newer than the running one; audited as a downgrade. */
  readonly allowDowngrade?: boolean;
  /** The running release's file (default RELEASE_FILE). */
  readonly releaseFile?: string;
  /** Where the install is remembered for the boot record (firmware/update/boot-record.ts). */
  readonly stateFile?: string;
}

export interface Installed {
  readonly version: string;
  readonly from: string;
  readonly compatible: string;
  readonly bundleSha256: string;
  readonly downgrade: boolean;
  /** The slot RAUC wrote, which boots next (null if RAUC's status could not say). */
  readonly slot: string | null;
}

/**
 * Verifies a bundle (signature against RAUC's keyring, compatible, version against the running release)
 * and has RAUC write it to the other slot. Every outcome is audited: update.installed, or
 * update.refused with the UpdateError's code, which is then thrown.
 */
export async function installUpdate(req: InstallRequest): Promise<Installed> {
  let bundleSha256 = "";
  let version: string | undefined;
  let from: string | undefined;
  try {
    bundleSha256 = await sha256File(req.bundle);
    from = runningVersion(req.releaseFile ?? RELEASE_FILE);
    const info = await req.rauc.info(req.bundle);
    version = info.version;
    const compatible = req.rauc.compatible();
    if (info.compatible !== compatible) {
      throw new UpdateError("UPDATE_INCOMPATIBLE", `update bundle ${req.bundle} is for ${info.compatible}, this gateway is ${compatible}: use the bundle built for this architecture`);
    }
    const v = parseVersion(info.version);
    if (v === null) throw new UpdateError("UPDATE_BUNDLE_INVALID", `update bundle ${req.bundle}: version ${JSON.stringify(info.version)} is not MAJOR.MINOR.PATCH[-PRERELEASE]`);
    const running = parseVersion(from);
    if (running === null) throw new UpdateError("UPDATE_RELEASE_UNKNOWN", `${req.releaseFile ?? RELEASE_FILE}: version ${JSON.stringify(from)} is not MAJOR.MINOR.PATCH[-PRERELEASE]`);
    const downgrade = compareVersions(v, running) <= 0;
    if (downgrade && req.allowDowngrade !== true) {
      throw new UpdateError("UPDATE_DOWNGRADE", `update bundle ${req.bundle} has version ${info.version}, not newer than the running ${from}: refused (anti-rollback); --allow-downgrade installs it anyway, audited`);
    }
    await req.rauc.install(req.bundle);
    const status = await req.rauc.status().catch(() => null);
    const slot = status?.primary ?? null;
    if (status !== null && req.stateFile !== undefined) recordInstall(req.stateFile, status, info.version);
    const done: Installed = { version: info.version, from, compatible, bundleSha256, downgrade, slot };
    req.audit.append(AUDIT_EVENTS.updateInstalled, { ...done });
    return done;
  } catch (err) {
    if (err instanceof UpdateError) {
      req.audit.append(AUDIT_EVENTS.updateRefused, {
        bundleSha256, code: err.code, reason: err.message, ...(version === undefined ? {} : { version }), ...(from === undefined ? {} : { from }),
      });
    }
    throw err;
  }
}

/** The running release's version from its release file (`version=X.Y.Z`). */
export function runningVersion(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new UpdateError("UPDATE_RELEASE_UNKNOWN", `${file} cannot be read (${(err as Error).message}): the running release's version is unknown, so anti-rollback cannot decide`, { cause: err });
  }
  const m = /^version=(.+)$/m.exec(text);
  if (!m) throw new UpdateError("UPDATE_RELEASE_UNKNOWN", `${file}: no version= line: the running release's version is unknown`);
  return (m[1] ?? "").trim();
}

function sha256File(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash("sha256");
    createReadStream(file)
      .on("data", (c) => h.update(c))
      .on("error", (err) => reject(new UpdateError("UPDATE_BUNDLE_INVALID", `update bundle ${file} cannot be read (${err.message})`, { cause: err })))
      .on("end", () => resolve(h.digest("hex")));
  });
}
