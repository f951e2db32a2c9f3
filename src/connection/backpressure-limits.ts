// The bounds on what a connection holds for a peer that does not read or sends faster than we decode.
// Apart so that the tests and the connection share one number each.

/**
 * Pongs written for the peer and not yet taken by the kernel, above which the connection stops reading from
 * it until they drain: answers obey backpressure too, so a peer that floods pings and never reads costs at
 * most this (plus the answers to one read). Application data is not counted here (that is bufferedAmount
 * and the slow-consumer rule): pausing input for our own large sends would deadlock two peers that both
 * send more than the bound while each waits for the other to read.
 */
export const MAX_UNSENT_ANSWER_BYTES = 64 * 1024;
/**
 * Bytes received behind a message being decompressed (the parser's backlog: it waits for the decoder, RFC
 * 7692 §6.2 order), above which the connection stops reading until the decoder settles. Without it a peer
 * could stream any amount behind one slow-to-inflate message, out of the rate limiter's and the pong
 * bound's sight.
 */
export const MAX_DECODE_BACKLOG_BYTES = 64 * 1024;
/** A pong's header: 2 bytes for a payload of at most 125, plus the masking key when a client sends it. */
export const PONG_HEADER_BYTES = 6;
/** How long a peer failed as a slow consumer has to read what waits and our Close before it is dropped. */
export const SLOW_CONSUMER_GRACE_MS = 1000;
