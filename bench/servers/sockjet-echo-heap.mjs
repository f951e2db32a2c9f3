// sockjet-echo.mjs with an application-sized heap beside it (app-heap.mjs): same arguments, same output.
await import("./app-heap.mjs");
await import("./sockjet-echo.mjs");
