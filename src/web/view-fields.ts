import { isDataView } from "node:util/types";

// A view's buffer, offset and length as its internal slots hold them. WebIDL reads those, not properties: a
// subclass's getter or an own property may say otherwise (a Buffer given its own `length` of 60 over 3 bytes
// made a frame of 60, 57 of them uninitialized memory). The intrinsic getters are brand checks too.

type Getter<T> = (this: unknown) => T;

function getter<T>(prototype: object, key: PropertyKey): Getter<T> {
  return Object.getOwnPropertyDescriptor(prototype, key)!.get as Getter<T>;
}

const typedArrayPrototype = Object.getPrototypeOf(Uint8Array.prototype) as object;
/** %TypedArray%.prototype[@@toStringTag]: the kind of a typed array ("Uint8Array"…), undefined for anything else. */
export const typedArrayKind = getter<string | undefined>(typedArrayPrototype, Symbol.toStringTag);
export const typedArrayBuffer = getter<ArrayBufferLike>(typedArrayPrototype, "buffer");
export const typedArrayOffset = getter<number>(typedArrayPrototype, "byteOffset");
export const typedArrayLength = getter<number>(typedArrayPrototype, "byteLength");
const dataViewBuffer = getter<ArrayBufferLike>(DataView.prototype, "buffer");
const dataViewOffset = getter<number>(DataView.prototype, "byteOffset");
const dataViewLength = getter<number>(DataView.prototype, "byteLength");

/** The buffer under a typed array or a DataView. */
export function viewBuffer(view: ArrayBufferView): ArrayBufferLike {
  return isDataView(view) ? dataViewBuffer.call(view) : typedArrayBuffer.call(view);
}

/**
 * The bytes a typed array or a DataView views, as a Buffer over the same memory; empty when its buffer is
 * detached (a detached DataView's byteLength getter would throw).
 */
export function viewedBytes(view: ArrayBufferView): Buffer {
  const buffer = viewBuffer(view);
  if (buffer.byteLength === 0) return Buffer.alloc(0);
  return isDataView(view)
    ? Buffer.from(buffer, dataViewOffset.call(view), dataViewLength.call(view))
    : Buffer.from(buffer, typedArrayOffset.call(view), typedArrayLength.call(view));
}
