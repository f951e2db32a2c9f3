import type net from "node:net";

// Listening on --host/--port, for `sockjet serve` (one process, or the primary of --workers), with the
// errors a user can act on said plainly.

export function listen(server: net.Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => reject(listenError(error, port, host));
    server.once("error", onError);
    server.listen(port, host, () => {
      server.off("error", onError);
      resolve();
    });
  });
}

function listenError(error: NodeJS.ErrnoException, port: number, host: string): Error {
  if (error.code === "EADDRINUSE")
    return new Error(`${host}:${port} is already in use (try another --port, or --port 0 for any)`);
  if (error.code === "EACCES")
    return new Error(`no permission to listen on ${host}:${port} (ports below 1024 need privileges)`);
  if (error.code === "EADDRNOTAVAIL")
    return new Error(
      `--host ${host} is not an address of this machine (use one of its own, 127.0.0.1, or 0.0.0.0 for all)`,
    );
  if (error.code === "ENOTFOUND" || error.code === "EAI_AGAIN") {
    // "[::1]:8080" or "localhost:8080": a host with a port, as a URL writes it.
    const withPort = /^(\[[^\]]*\]|[^:]*):\d+$/.test(host);
    return new Error(`cannot resolve --host ${host}${withPort ? " (give the port with --port)" : ""}`);
  }
  return error;
}
