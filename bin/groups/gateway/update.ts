import type { Command } from "commander";

/** `otgw update status | install BUNDLE | boot-record | health`: the gateway's A/B OS updates through RAUC (docs/update.md). */
export function register(program: Command): void {
  const update = program.command("update").description("signed A/B OS image updates through RAUC (docs/update.md)");
  update.command("status")
    .option("--rauc-config <file>", "RAUC system config", "/etc/rauc/system.conf")
    .description("both root slots: which booted, which boots next, good or bad, installed version")
    .action(async (o: { raucConfig: string }) => {
      const { updateStatus } = await import("../../commands/gateway/update.js");
      process.exitCode = await updateStatus({ raucConfig: o.raucConfig });
    });
  update.command("install").argument("<bundle>").requiredOption("-c, --config <file>", "gateway config (state directory, identity for the audit log)")
    .option("--allow-downgrade", "install a version that is not newer than the running one (audited)", false)
    .option("--rauc-config <file>", "RAUC system config (keyring, compatible)", "/etc/rauc/system.conf")
    .option("--release <file>", "the running release's version file", "/usr/lib/otgw/release")
    .description("verify (signature, compatible, anti-rollback) and write the bundle to the other slot; it boots next; audited")
    .action(async (bundle: string, o: { config: string; allowDowngrade: boolean; raucConfig: string; release: string }) => {
      const { updateInstall } = await import("../../commands/gateway/update.js");
      process.exitCode = await updateInstall(bundle, { configFile: o.config, allowDowngrade: o.allowDowngrade, raucConfig: o.raucConfig, releaseFile: o.release });
    });
  update.command("boot-record").requiredOption("-c, --config <file>", "gateway config (state directory, identity for the audit log)")
    .option("--boot-complete", "boot-complete.target was reached: the booted slot passed its health check", false)
    .option("--rauc-config <file>", "RAUC system config", "/etc/rauc/system.conf")
    .description("at boot (the image's units run it): audit what became of the last install (booted, marked good, rolled back)")
    .action(async (o: { config: string; bootComplete: boolean; raucConfig: string }) => {
      const { updateBootRecord } = await import("../../commands/gateway/update.js");
      process.exitCode = await updateBootRecord({ configFile: o.config, bootComplete: o.bootComplete, raucConfig: o.raucConfig });
    });
  update.command("health").requiredOption("-c, --config <file>", "gateway config")
    .option("--unit <name>", "the gateway's systemd unit", "otgw.service")
    .description("the health gate of boot-complete.target (otgw-health.service): service up, config valid, uplink connected or why not")
    .action(async (o: { config: string; unit: string }) => {
      const { updateHealth } = await import("../../commands/gateway/update.js");
      process.exitCode = await updateHealth({ configFile: o.config, unit: o.unit });
    });
}
