#!/usr/bin/env bash
# Copies the gateway's part of a built dist/ into DEST/dist and lists it in DEST/SHIPPED. Used by
# stage-project.sh for the images and by test/image/gateway-only.test.ts, which runs the CLI from
# such a copy without building an image.
# Usage: stage-dist.sh DIST DEST
set -euo pipefail
dist=$1 dst=$2
fail() { echo "otgw image: ERROR: $*" >&2; exit 1; }
# Only the gateway's folders (docs/architecture.md): the receiver (ingest/, envelope/verify/), the fleet
# side (fleet/), the dev kit (devkit/), tests, benches and scripts stay behind, and so do the CLI's
# command groups of those deployables (bin/groups/<deployable>/, bin/commands/<deployable>/); the CLI says such a group is not
# part of this installation. npm run check keeps the gateway's folders from importing the others.
mkdir -p "$dst/dist"
for d in kernel envelope hal firmware provisioning bin; do
  [ -d "$dist/$d" ] || fail "$dist/$d is missing: run \`npm run build\`"
  cp -a "$dist/$d" "$dst/dist/$d"
done
rm -rf "$dst/dist/envelope/verify"
for d in "$dst/dist/bin/groups"/*/ "$dst/dist/bin/commands"/*/; do
  [ -d "$d" ] || continue
  case "$(basename "$d")" in gateway) ;; *) rm -rf "$d" ;; esac
done
(cd "$dst" && find dist -type f | LC_ALL=C sort) > "$dst/SHIPPED"
if grep -E '^dist/(ingest|fleet|devkit|test|bench|scripts|envelope/verify|bin/groups/[^g]|bin/commands/[^g])' "$dst/SHIPPED" >&2; then
  fail "receiver, fleet, dev-kit or test code was staged (above)"
fi
