import { test } from "node:test";
import assert from "node:assert/strict";
import { compareVersions, parseVersion } from "../../firmware/update/version.js";

const cmp = (a: string, b: string): number => {
  const x = parseVersion(a);
  const y = parseVersion(b);
  assert.ok(x && y, `${a} and ${b} parse`);
  return compareVersions(x, y);
};

void test("release versions order by SemVer precedence (anti-rollback's comparison)", () => {
  const ordered = ["0.9.9", "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.2.0", "1.10.0", "2.0.0"];
  for (let i = 0; i < ordered.length; i++) {
    for (let j = 0; j < ordered.length; j++) {
      assert.equal(cmp(ordered[i] as string, ordered[j] as string), Math.sign(i - j), `${ordered[i]} vs ${ordered[j]}`);
    }
  }
  assert.equal(cmp("1.2.3+build.7", "1.2.3"), 0, "build metadata is ignored");
});

void test("what is not a release version is refused", () => {
  for (const bad of ["", "1", "1.2", "v1.2.3", "01.2.3", "1.2.3-", "1.2.3 junk", "1.2.x"]) assert.equal(parseVersion(bad), null, bad);
});
