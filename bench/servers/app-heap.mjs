// A stand-in for an application's live objects: some 20 MB of small objects kept for the life of the process
// (200,000 × { number, string, array }). Imported first by the `*-echo-heap.mjs` servers, which show how an
// echo server's speed on large messages depends on the heap beside it: the buffers' memory starts full
// garbage collections, each of which walks every live object (bench/micro/echo-gc.mjs counts them).
globalThis.appHeap = Array.from({ length: 200_000 }, (_, i) => ({ id: i, name: `item ${i}`, tags: [i] }));
