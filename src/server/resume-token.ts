import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

// Session tokens of resumable sessions: "<id>.<secret>", base64url (RFC 4648 §5). The secret is 32 random
// bytes; the id, which names the record in the store, is derived from it and from the identity the app binds
// the session to (resume.identify; "" without one): a hash, apart from the one the store keeps. A token whose
// secret is not its id's, or presented by another identity, is refused before the store is asked: it cannot
// take (and so use up) the owner's record. The store keeps only sha256(secret), so a leak
// of the store gives no usable token, and the checks compare in constant time (no timing oracle).

const ID_BYTES = 16;
const SECRET_BYTES = 32;
const ID_LENGTH = Math.ceil((ID_BYTES * 4) / 3);
const SECRET_LENGTH = Math.ceil((SECRET_BYTES * 4) / 3);
const BASE64URL = /^[A-Za-z0-9_-]+$/;

export interface IssuedToken {
  id: string;
  /** What the client presents. */
  token: string;
  /** What the store keeps. */
  secretHash: string;
}

/** A new session's token; `identity` (resume.identify's answer, "" without one) is bound into its id. */
export function issueToken(identity: string): IssuedToken {
  const secret = randomBytes(SECRET_BYTES).toString("base64url");
  const id = idOf(secret, identity);
  return { id, token: `${id}.${secret}`, secretHash: hashSecret(secret) };
}

/**
 * Whether `id` is the one derived from `secret` and `identity`: a token not made by issueToken(), or made
 * for another identity (a token stolen by another user), is "forged".
 */
export function idMatches(id: string, secret: string, identity: string): boolean {
  const expected = Buffer.from(idOf(secret, identity));
  const actual = Buffer.from(id);
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

/**
 * The id of a session: the first ID_BYTES of a hash of its identity and secret, domain-separated from
 * hashSecret() (the identity length-prefixed, so that no two pairs hash the same input).
 */
function idOf(secret: string, identity: string): string {
  return createHash("sha256")
    .update(`sockjet.resume.1 session id\n${identity.length}:${identity}\n${secret}`)
    .digest()
    .subarray(0, ID_BYTES)
    .toString("base64url");
}

/** The id and secret of a token, or null when it is not one we could have issued. */
export function parseToken(token: unknown): { id: string; secret: string } | null {
  if (typeof token !== "string" || token.length !== ID_LENGTH + 1 + SECRET_LENGTH) return null;
  const id = token.slice(0, ID_LENGTH);
  const secret = token.slice(ID_LENGTH + 1);
  if (token[ID_LENGTH] !== "." || !BASE64URL.test(id) || !BASE64URL.test(secret)) return null;
  return { id, secret };
}

/** Whether `secret` hashes to `secretHash`, in constant time. */
export function secretMatches(secret: string, secretHash: unknown): boolean {
  if (typeof secretHash !== "string") return false;
  const expected = Buffer.from(secretHash, "base64url");
  const actual = createHash("sha256").update(secret).digest();
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

function hashSecret(secret: string): string {
  return createHash("sha256").update(secret).digest("base64url");
}
