import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';

// Ports for servers a test starts itself (handout up, its embedded Temporal and Web UI). A port the
// kernel hands out for listen(0) comes from the ephemeral range, which every outgoing connection on
// the machine (gRPC clients, HTTP clients, another suite's benchmark) also draws from: a test that
// stops and restarts a server on "its" port could find it taken by someone's connection meanwhile
// ("bind: address already in use"). So ports are picked at random below that range, where the kernel
// never assigns one on its own, and checked free by binding them.

/** The first port of the kernel's ephemeral range (32768 when it cannot be read). */
function ephemeralStart(): number {
  try {
    const [low] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    return low && low > 12_000 ? low : 32_768;
  } catch {
    return 32_768;
  }
}

const LOWEST = 10_000;

function tryListen(port: number): Promise<Server | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(undefined));
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

/** Several distinct ports, free a moment ago on 127.0.0.1: each is held until all are chosen, so none repeats. */
export async function freePorts(count: number): Promise<number[]> {
  const highest = ephemeralStart() - 1;
  const held: Server[] = [];
  try {
    for (let attempts = 0; held.length < count; attempts++) {
      if (attempts > 1000) throw new Error(`no ${count} free ports between ${LOWEST} and ${highest}`);
      const server = await tryListen(LOWEST + Math.floor(Math.random() * (highest - LOWEST + 1)));
      if (server) held.push(server);
    }
    return held.map((s) => (s.address() as { port: number }).port);
  } finally {
    await Promise.all(held.map((s) => new Promise((r) => s.close(r))));
  }
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return (await freePorts(1))[0]!;
}
