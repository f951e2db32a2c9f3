// ws-echo.mjs with an application-sized heap beside it (app-heap.mjs): same arguments, same output.
await import("./app-heap.mjs");
await import("./ws-echo.mjs");
