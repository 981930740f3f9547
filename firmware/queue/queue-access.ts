import { accessSync, constants, statSync } from "node:fs";
import { userInfo } from "node:os";
import { dirname } from "node:path";

const isPermission = (err: unknown): boolean => {
  const code = (err as { code?: unknown }).code;
  return code === "EACCES" || code === "EPERM";
};

/** The user this process runs as: its name (or uid where the user database has none) and a label for messages. */
export function processUser(): { name: string; label: string } {
  const uid = process.getuid?.() ?? -1;
  try {
    const name = userInfo().username;
    return { name, label: `${name} (uid ${uid})` };
  } catch {
    return { name: String(uid), label: `uid ${uid}` };
  }
}

/** Owner and mode of `path` for the message, or "" where even that cannot be read. */
function ownerOf(path: string): string {
  try {
    const st = statSync(path);
    return ` (owner uid ${st.uid}, mode ${(st.mode & 0o7777).toString(8).padStart(4, "0")})`;
  } catch {
    return "";
  }
}

/**
 * Whether this process may use the queue file `file`: the directory must be searchable and writable
 * (SQLite creates the -wal and -shm files and the new file there), the file and its -wal/-shm readable
 * and writable. Returns a one-line message for the operator (what is refused, to whom, the fix), or
 * null. A refused file is sound as far as anyone knows: moving it aside would strand its unsent frames,
 * so the message never says so. Root passes these checks whatever the modes are, as it should.
 */
export function permissionProblem(file: string): string | null {
  const dir = dirname(file);
  const checks: Array<[string, number]> = [[dir, constants.R_OK | constants.W_OK | constants.X_OK]];
  for (const f of [file, `${file}-wal`, `${file}-shm`]) checks.push([f, constants.R_OK | constants.W_OK]);
  for (const [path, mode] of checks) {
    try {
      accessSync(path, mode);
    } catch (err) {
      if ((err as { code?: unknown }).code === "ENOENT") continue;
      if (!isPermission(err)) return null; // not a permission problem: the open reports it
      return deniedMessage(file, path);
    }
  }
  return null;
}

/**
 * The permission message for an error `err` met while opening `file`: from the checks above, or from
 * the path an EACCES names (a parent directory that cannot be created, say); null if it is not one.
 */
export function permissionError(file: string, err: unknown): string | null {
  if (!mayBePermission(err)) return null;
  const found = permissionProblem(file);
  if (found !== null) return found;
  const path = (err as { path?: unknown }).path;
  return isPermission(err) ? deniedMessage(file, typeof path === "string" ? path : dirname(file)) : null;
}

function deniedMessage(file: string, path: string): string {
  const user = processUser();
  const what = path === file || path.startsWith(`${file}-`) ? "file" : "directory";
  return `the gateway runs as ${user.label} and may not read and write the queue ${what} ${path}${ownerOf(path)}: ` +
    `this is not damage, do not move the queue file aside (its unsent frames would be stranded); give that user access, ` +
    `e.g. \`chown -R ${user.name} ${dirname(file)}\` or \`chmod u+rwX ${path}\`, or run the gateway as the owner of ${file}`;
}

/** Whether `err` from opening SQLite or the file system may be a permission problem worth checking for. */
function mayBePermission(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return isPermission(err) || code === "SQLITE_CANTOPEN" || code === "SQLITE_READONLY" || code === "SQLITE_PERM" || code === "SQLITE_AUTH" ||
    (typeof code === "string" && (code.startsWith("SQLITE_CANTOPEN") || code.startsWith("SQLITE_READONLY")));
}
