// Join and leave notices, throttled. Each notice goes to every member, so N members joining cost N² writes
// (2,000 joins: ~2 million messages, issue 22 item 5). Up to `perWindow` notices per window go out one by
// one, as they come; past that, the window's joins and leaves are counted and go out as one summary at its
// end, and so on for every window the burst lasts:
//
//   {"type":"presence","joined":1980,"left":3,"users":2017,"time":…}
//
// So a quiet room sees every join and leave by name, and a burst costs at most perWindow + 1 broadcasts a
// window whatever its size.

export interface PresenceNotice {
  type: "join" | "leave";
  user: string;
  users: number;
  time: number;
}

export interface PresenceSummary {
  type: "presence";
  joined: number;
  left: number;
  users: number;
  time: number;
}

export interface NoticeThrottleOptions {
  /** Notices sent one by one per window. */
  perWindow: number;
  windowMs: number;
  publish: (notice: PresenceNotice | PresenceSummary) => void;
  now: () => number;
}

export class NoticeThrottle {
  private readonly options: NoticeThrottleOptions;
  private windowEnds = Number.NEGATIVE_INFINITY;
  private sentInWindow = 0;
  private joined = 0;
  private left = 0;
  private users = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(options: NoticeThrottleOptions) {
    this.options = options;
  }

  notice(notice: PresenceNotice): void {
    const { perWindow, windowMs } = this.options;
    const now = Date.now();
    if (this.timer === undefined && now >= this.windowEnds) {
      this.windowEnds = now + windowMs;
      this.sentInWindow = 0;
    }
    if (this.sentInWindow < perWindow) {
      this.sentInWindow++;
      this.options.publish(notice);
      return;
    }
    if (notice.type === "join") this.joined++;
    else this.left++;
    this.users = notice.users;
    if (this.timer === undefined) {
      this.timer = setTimeout(() => this.flush(), Math.max(0, this.windowEnds - now));
      this.timer.unref();
    }
  }

  /** Sends the pending summary now, if any. The window after it sends summaries only: the burst is on. */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.joined === 0 && this.left === 0) return;
    const summary: PresenceSummary = {
      type: "presence",
      joined: this.joined,
      left: this.left,
      users: this.users,
      time: this.options.now(),
    };
    this.joined = 0;
    this.left = 0;
    this.windowEnds = Date.now() + this.options.windowMs;
    this.sentInWindow = this.options.perWindow;
    this.options.publish(summary);
  }
}
