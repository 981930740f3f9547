import { Type } from "@sinclair/typebox";

/**
 * TypeBox building blocks shared by the config fragments (firmware/config/schema.ts composes them; the
 * adapters in hal/ and the identity in provisioning/ own theirs). They live in kernel/ because every
 * fragment needs them and hal/ and provisioning/ must not import firmware/.
 */

/** Objects in the config refuse unknown fields, so a typo is an error instead of a silently ignored key. */
export const strict = { additionalProperties: false } as const;
/** An id: 1–64 of `A-Z a-z 0-9 . _ -`, starting with a letter or digit (docs/config.md). */
export const IdT = Type.String({ pattern: "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$" });
/** A file or directory path; relative paths are resolved against the config file's directory by the loader. */
export const Path = Type.String({ minLength: 1 });
/** A union of string literals. */
export const Lit = <T extends string>(...xs: T[]) => Type.Union(xs.map((x) => Type.Literal(x)));
