// One pub/sub command at a time per channel. node-redis (6.3) keeps a channel's listeners until the reply to
// its UNSUBSCRIBE: a SUBSCRIBE of the same channel asked for meanwhile sees them, sends nothing, and the
// UNSUBSCRIBE's reply then drops them, so the channel ends up unsubscribed while the caller believes it is
// subscribed (on a cluster the shard's pub/sub connection is even closed). A quick unsubscribe + subscribe
// (a topic's last subscriber leaves and one comes) must not lose the channel: each command waits here for
// the one before it on its channel to settle, and decides when its turn comes whether it is still wanted.

const ignore = () => {};

export class ChannelQueue {
  /** channel → the settling of its last command queued (never rejects). */
  private readonly tails = new Map<string, Promise<void>>();

  /**
   * Runs `command` once every command queued before it on any of `channels` has settled (whatever its
   * outcome), and returns its result. The wait follows the Redis command itself, not a caller's timeout.
   */
  run<T>(channels: readonly string[], command: () => Promise<T>): Promise<T> {
    const before: Promise<void>[] = [];
    for (const channel of channels) {
      const tail = this.tails.get(channel);
      if (tail !== undefined) before.push(tail);
    }
    const result = before.length === 0 ? start(command) : Promise.all(before).then(command);
    const tail = result.then(ignore, ignore);
    for (const channel of channels) this.tails.set(channel, tail);
    tail.then(() => {
      for (const channel of channels) if (this.tails.get(channel) === tail) this.tails.delete(channel);
    });
    return result;
  }
}

/** `command()`, with a synchronous throw as a rejection. */
async function start<T>(command: () => Promise<T>): Promise<T> {
  return command();
}
