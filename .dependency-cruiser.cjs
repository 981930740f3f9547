// Dependency directions between the deployables (docs/architecture.md), checked by `npm run check`.
//
//   kernel ← envelope ← envelope/verify
//   kernel, envelope ← hal, provisioning ← firmware            (the gateway: what the image ships)
//   kernel, envelope(+verify) ← ingest                          (the receiver)
//   kernel, envelope(+verify), hal, provisioning, firmware ← fleet   (CA, EST server, attestation, training)
//   everything but bin/bench/scripts/test ← devkit; everything but test ← bin, bench, scripts; test sees all
//   (tests may call the CLI's command handlers in-process; nothing else imports bin/)
//
// Type-only imports count too (tsPreCompilationDeps): a type that crosses a boundary ties the two
// folders as surely as a value does.
const all = ["kernel", "envelope", "hal", "firmware", "provisioning", "fleet", "ingest", "devkit", "bin", "bench", "scripts", "test"];
const only = (...allowed) => `^(${all.filter((f) => !allowed.includes(f)).join("|")})/`;

/** A rule: files under `from` may not import files under the folders not in `allowed`. */
const layer = (name, from, allowed, comment, extra = []) => ({
  name,
  comment,
  severity: "error",
  from: { path: from },
  to: { path: [only(...allowed), ...extra] },
});

module.exports = {
  forbidden: [
    layer("kernel-stands-alone", "^kernel/", ["kernel"], "kernel/ is the shared bottom layer: it imports no other project folder"),
    layer("envelope-only-on-kernel", "^envelope/", ["kernel", "envelope"], "envelope/ (format, sealer, verifier) builds on kernel/ only"),
    {
      name: "envelope-core-without-verifier",
      comment: "the gateway ships envelope/ without envelope/verify/ (receiver-only): the core must not need it",
      severity: "error",
      from: { path: "^envelope/", pathNot: "^envelope/verify/" },
      to: { path: "^envelope/verify/" },
    },
    layer("hal-on-kernel", "^hal/", ["kernel", "envelope", "hal"], "hal/ adapters own their config schema; they never import the runtime", ["^envelope/verify/"]),
    layer("provisioning-below-firmware", "^provisioning/", ["kernel", "envelope", "provisioning"], "provisioning/ (keystores, TPM, EST client) is used by the runtime, never the reverse; it never imports the fleet side", ["^envelope/verify/"]),
    layer("firmware-is-gateway-only", "^firmware/", ["kernel", "envelope", "hal", "provisioning", "firmware"], "the gateway runtime never imports receiver, fleet or dev-kit code (the image would not have it)", ["^envelope/verify/"]),
    layer("ingest-on-envelope", "^ingest/", ["kernel", "envelope", "ingest"], "the receiver depends on the shared kernel and envelope only, never on gateway internals"),
    layer("fleet-not-on-receiver", "^fleet/", ["kernel", "envelope", "hal", "provisioning", "firmware", "fleet"], "the fleet side may use the gateway's formats and protocol codecs, never the receiver, dev kit or CLI"),
    layer("devkit-is-a-library", "^devkit/", ["kernel", "envelope", "hal", "provisioning", "firmware", "fleet", "ingest", "devkit"], "the dev kit is a library: no CLI, bench, scripts or tests"),
    layer("bench-not-on-tests", "^bench/", ["kernel", "envelope", "hal", "provisioning", "firmware", "fleet", "ingest", "devkit", "bench"], "the bench uses the dev kit, not test helpers"),
    layer("scripts-not-on-tests", "^scripts/", ["kernel", "envelope", "hal", "provisioning", "firmware", "fleet", "ingest", "devkit", "scripts"], "scripts use the dev kit, not test helpers"),
    layer("bin-not-on-tests", "^bin/", ["kernel", "envelope", "hal", "provisioning", "firmware", "fleet", "ingest", "devkit", "bin"], "the CLI never imports tests, bench or scripts"),
    layer("gateway-cli-is-gateway-only", "^bin/(groups|commands)/gateway/", ["kernel", "envelope", "hal", "provisioning", "firmware", "bin"], "the gateway image ships only these command groups: they may not need receiver, fleet or dev-kit code", ["^envelope/verify/", "^bin/(groups|commands)/(?!gateway/)"]),
    {
      name: "nothing-imports-bin",
      comment: "bin/ is the top: no library, dev-kit, bench or script code imports the CLI (tests may drive its command handlers in-process)",
      severity: "error",
      from: { pathNot: "^(bin|test)/" },
      to: { path: "^bin/" },
    },
    {
      name: "no-dev-dependencies-in-product",
      comment: "code that ships (everything but test, bench, scripts) must not import devDependencies",
      severity: "error",
      from: { path: "^(kernel|envelope|hal|firmware|provisioning|fleet|ingest|devkit|bin)/" },
      to: { dependencyTypes: ["npm-dev"] },
    },
    {
      name: "no-unresolvable",
      comment: "an import that resolves to nothing is a typo or a missing dependency",
      severity: "error",
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "^(dist|node_modules)/" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: { exportsFields: ["exports"], conditionNames: ["import", "require", "node", "default"], extensions: [".ts", ".js", ".mjs", ".cjs", ".json", ".d.ts"] },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
