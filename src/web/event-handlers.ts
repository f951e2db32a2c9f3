// HTML §8.1.8.1 event handler attributes (onopen, onmessage, ...): one slot per type. The first non-null
// value registers a listener at that point in the listener list; later values replace the handler and keep
// that position; null removes it. WebIDL [LegacyTreatNonObjectAsNull]: non-objects become null.

type Handler = ((this: EventTarget, event: Event) => unknown) | object | null;

interface Slot {
  value: Handler;
  listener: ((event: Event) => void) | null;
}

/** The slots of one target, keyed by event type; the target keeps it (no WeakMap lookups, no Map). */
export type HandlerSlots = Record<string, Slot | undefined>;

export function getEventHandler(slots: HandlerSlots | null, type: string): Handler {
  return slots?.[type]?.value ?? null;
}

export function setEventHandler(
  target: EventTarget,
  slots: HandlerSlots,
  type: string,
  value: unknown,
  addListener: (type: string, listener: (event: Event) => void) => void,
  removeListener: (type: string, listener: (event: Event) => void) => void,
): void {
  const handler: Handler =
    typeof value === "object" || typeof value === "function" ? (value as Handler) : null;
  let slot = slots[type];
  if (slot === undefined) {
    slot = { value: null, listener: null };
    slots[type] = slot;
  }
  if (handler === null) {
    if (slot.listener !== null) removeListener(type, slot.listener);
    slot.listener = null;
    slot.value = null;
    return;
  }
  slot.value = handler;
  if (slot.listener === null) {
    const current = slot;
    current.listener = function (this: EventTarget, event: Event) {
      const fn = current.value;
      // A non-callable object is kept (the getter returns it) but calling it does nothing here.
      if (typeof fn === "function") Reflect.apply(fn, target, [event]);
    };
    addListener(type, current.listener);
  }
}
