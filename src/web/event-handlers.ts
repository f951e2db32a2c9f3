// HTML §8.1.8.1 event handler attributes (onopen, onmessage, ...): one slot per type. The first non-null
// value registers a listener at that point in the listener list; later values replace the handler and keep
// that position; null removes it. WebIDL [LegacyTreatNonObjectAsNull]: non-objects become null.

type Handler = ((this: EventTarget, event: Event) => unknown) | object | null;

/**
 * The handler values of one target, keyed by event type; the target keeps it (no WeakMap lookups, no Map). A
 * type's listener is registered exactly while its value is not null.
 */
export type HandlerSlots = Record<string, Handler | undefined>;

/** The listener that runs a target's handlers: one function per class, not a closure per handler. */
export type HandlerListener = (this: EventTarget, event: Event) => void;

export function getEventHandler(slots: HandlerSlots | null, type: string): Handler {
  return slots?.[type] ?? null;
}

/**
 * Makes the one listener a class registers for all its handlers: EventTarget calls it with `this` = the
 * target, so it finds the handler there (`slotsOf`) by the event's type, the type it was registered for. A
 * closure per handler would cost each connection about 100 bytes (issue 17).
 */
export function handlerListener(slotsOf: (target: EventTarget) => HandlerSlots | null): HandlerListener {
  return function (this: EventTarget, event: Event) {
    const fn = slotsOf(this)?.[event.type];
    // A non-callable object is kept (the getter returns it) but calling it does nothing here.
    if (typeof fn !== "function") return;
    // HTML §8.1.8.1 "process return value": false cancels the event (when it is cancelable).
    if (Reflect.apply(fn, this, [event]) === false) event.preventDefault();
  };
}

export function setEventHandler(
  slots: HandlerSlots,
  type: string,
  value: unknown,
  listener: HandlerListener,
  addListener: (type: string, listener: HandlerListener) => void,
  removeListener: (type: string, listener: HandlerListener) => void,
): void {
  const handler: Handler =
    typeof value === "object" || typeof value === "function" ? (value as Handler) : null;
  const registered = (slots[type] ?? null) !== null;
  if (handler === null) {
    if (registered) removeListener(type, listener);
    slots[type] = null;
    return;
  }
  slots[type] = handler;
  if (!registered) addListener(type, listener);
}
