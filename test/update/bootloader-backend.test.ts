/**
 * The image's RAUC bootloader backend (image/overlay/usr/lib/otgw/rauc-bootloader) over a directory
 * standing in for the ESP, driven the way RAUC and systemd-boot drive it: which slot boots next follows
 * the tries left in the entry file names and the sort-key; bad input gets one line naming the problem.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BACKEND } from "./rauc-fixture.js";

const esp = (): { dir: string; entries: string; run: (...args: string[]) => { code: number | null; out: string; err: string } } => {
  const dir = mkdtempSync(join(tmpdir(), "otgw-esp-"));
  const entries = join(dir, "loader", "entries");
  mkdirSync(entries, { recursive: true });
  writeFileSync(join(entries, "otgw-a.conf"), "title a\nsort-key otgw-1\n");
  writeFileSync(join(entries, "otgw-b+0.conf"), "title b\nsort-key otgw-2\n");
  return {
    dir, entries,
    run: (...args) => {
      const r = spawnSync("sh", [BACKEND(), ...args], { env: { ...process.env, OTGW_ESP: dir }, encoding: "utf8" });
      return { code: r.status, out: r.stdout.trim(), err: r.stderr.trim() };
    },
  };
};

void test("a fresh image: A is primary and good, B (empty) bad; set-primary B gives it 3 tries and the first place", () => {
  const e = esp();
  try {
    assert.deepEqual([e.run("get-primary").out, e.run("get-state", "a").out, e.run("get-state", "b").out], ["a", "good", "bad"]);
    assert.equal(e.run("set-primary", "b").code, 0);
    assert.deepEqual(readdirSync(e.entries).sort(), ["otgw-a.conf", "otgw-b+3.conf"]);
    assert.deepEqual([e.run("get-primary").out, e.run("get-state", "b").out], ["b", "good"]);
    // systemd-boot spent one try, then another: B still boots next while it has any left.
    renameSync(join(e.entries, "otgw-b+3.conf"), join(e.entries, "otgw-b+1-2.conf"));
    assert.equal(e.run("get-primary").out, "b");
    renameSync(join(e.entries, "otgw-b+1-2.conf"), join(e.entries, "otgw-b+0-3.conf"));
    assert.deepEqual([e.run("get-primary").out, e.run("get-state", "b").out], ["a", "bad"]);
    // Blessed (what systemd-bless-boot does, and RAUC's mark-good): no counter any more.
    assert.equal(e.run("set-state", "b", "good").code, 0);
    assert.deepEqual(readdirSync(e.entries).sort(), ["otgw-a.conf", "otgw-b.conf"]);
    assert.equal(e.run("get-primary").out, "b", "B has the first sort-key and is good");
    assert.equal(e.run("set-state", "b", "bad").code, 0);
    assert.deepEqual([e.run("get-primary").out, e.run("get-state", "b").out], ["a", "bad"]);
  } finally {
    rmSync(e.dir, { recursive: true, force: true });
  }
});

void test("bad input: an unknown bootname, a missing or doubled entry, a bad state, each named in one line", () => {
  const e = esp();
  try {
    const cases: Array<[string[], RegExp, () => void]> = [
      [["get-state", "c"], /unknown bootname 'c'/, () => undefined],
      [["set-state", "a", "maybe"], /state must be good or bad/, () => undefined],
      [["frobnicate"], /usage: get-primary/, () => undefined],
      [["get-state", "a"], /two entry files for slot a .*remove the stale one/, () => writeFileSync(join(e.entries, "otgw-a+2.conf"), "title stale\n")],
      [["get-state", "b"], /no entry file for slot b/, () => rmSync(join(e.entries, "otgw-b+0.conf"))],
    ];
    for (const [args, want, setup] of cases) {
      setup();
      const r = e.run(...args);
      assert.equal(r.code, 1, args.join(" "));
      assert.match(r.err, want, args.join(" "));
      assert.equal(r.err.split("\n").length, 1, `one line for ${args.join(" ")}`);
    }
  } finally {
    rmSync(e.dir, { recursive: true, force: true });
  }
});
