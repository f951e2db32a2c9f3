// HTML §8.1.8.1 event handler attributes (onopen, onmessage, ...): one slot per type. The first non-null
// value registers a listener at that point in the listener list; later values replace the handler and keep
// that position; null removes it. WebIDL [LegacyTreatNonObjectAsNull]: non-objects become null.

type Handler = ((this: EventTarget, event: Event) => unknown) | object | null;

interface Slot {
  value: Handler;
  listener: ((event: Event) => void) | null;
}

const slots = new WeakMap<EventTarget, Map<string, Slot>>();

function slotFor(target: EventTarget, type: string): Slot | undefined {
  return slots.get(target)?.get(type);
}

export function getEventHandler(target: EventTarget, type: string): Handler {
  return slotFor(target, type)?.value ?? null;
}

export function setEventHandler(
  target: EventTarget,
  type: string,
  value: unknown,
  addListener: (type: string, listener: (event: Event) => void) => void,
  removeListener: (type: string, listener: (event: Event) => void) => void,
): void {
  const handler: Handler =
    typeof value === "object" || typeof value === "function" ? (value as Handler) : null;
  let map = slots.get(target);
  if (map === undefined) {
    map = new Map();
    slots.set(target, map);
  }
  let slot = map.get(type);
  if (slot === undefined) {
    slot = { value: null, listener: null };
    map.set(type, slot);
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
