import { execFileSync } from "node:child_process";
import type { ModelArtefact } from "./artefact.js";
import { MODEL_KIND } from "./artefact.js";
import type { ModelPredicate } from "./statement.js";

/** The git commit of the code that trained a model, or "unknown" outside a git checkout. */
export function codeCommit(cwd: string): string {
  try {
    const out = execFileSync("git", ["rev-parse", "HEAD"], { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    return /^[0-9a-f]{7,64}$/.test(out) ? out : "unknown";
  } catch {
    return "unknown";
  }
}

/** A provenance draft for a freshly trained artefact; the registry adds approvals before signing. */
export function draftPredicate(a: ModelArtefact, o: {
  name: string; version: number; dataset: { name: string; sha256: string; description: string }; jobId: string; commit: string;
  createdAt: string; parameters: Record<string, number | string | boolean>;
}): ModelPredicate {
  return {
    model: { name: o.name, kind: MODEL_KIND, version: o.version },
    datasets: [{ name: o.dataset.name, digest: { sha256: o.dataset.sha256 }, description: o.dataset.description }],
    features: a.assets.flatMap((as) => as.features.map((f) => ({
      point: f.point, unit: f.unit,
      definition: f.level
        ? `${a.windowMs} ms window: median vs ${f.level.b.toFixed(3)}·load(${as.loadPoint}, lag ${f.level.lagWindows}); max |x−median|/σ; spread/σ`
        : `${a.windowMs} ms window (load index of ${as.id}): max |x−median|/σ; spread/σ`,
    }))),
    training: { jobId: o.jobId, codeCommit: o.commit, createdAt: o.createdAt, parameters: o.parameters },
    approvals: [],
  };
}
