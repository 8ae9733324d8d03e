/**
 * A loopback server speaking just enough RESP for a Redis client to connect: PING gets +PONG,
 * INFO an empty reply, anything else +OK. It keeps every command it was sent, and a hook may take
 * a command over (to hang up instead of answering, say).
 */
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';

/** The commands (arrays of bulk strings) complete in `buffer`, and what is left after them. */
export function parseCommands(buffer: string): { commands: string[][]; rest: string } {
  const commands: string[][] = [];
  let at = 0;
  for (;;) {
    const header = /^\*(\d+)\r\n/.exec(buffer.slice(at));
    if (header === null) break;
    let pos = at + header[0].length;
    const args: string[] = [];
    for (let i = 0; i < Number(header[1]); i += 1) {
      const bulk = /^\$(\d+)\r\n/.exec(buffer.slice(pos));
      if (bulk === null || buffer.length < pos + bulk[0].length + Number(bulk[1]) + 2) return { commands, rest: buffer.slice(at) };
      pos += bulk[0].length;
      args.push(buffer.slice(pos, pos + Number(bulk[1])));
      pos += Number(bulk[1]) + 2;
    }
    commands.push(args);
    at = pos;
  }
  return { commands, rest: buffer.slice(at) };
}

export interface FakeRedis {
  readonly port: number;
  /** Every command received so far, on any connection, in order. */
  readonly commands: readonly (readonly string[])[];
  /** Connections accepted so far. */
  connections(): number;
  close(): Promise<void>;
}

/**
 * `intercept` sees each command first (with the 1-based number of its connection); returning true
 * means it dealt with it, and the rest of what that connection sent in the same chunk is dropped.
 */
export async function startFakeRedis(
  intercept?: (args: readonly string[], connection: number, socket: Socket) => boolean,
): Promise<FakeRedis> {
  let connections = 0;
  const commands: string[][] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    connections += 1;
    const connection = connections;
    let buffer = '';
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    socket.on('data', (chunk) => {
      const parsed = parseCommands(buffer + chunk.toString('latin1'));
      buffer = parsed.rest;
      for (const args of parsed.commands) {
        commands.push(args);
        if (intercept?.(args, connection, socket) === true) return;
        const command = (args[0] ?? '').toLowerCase();
        socket.write(command === 'ping' ? '+PONG\r\n' : command === 'info' ? '$0\r\n\r\n' : '+OK\r\n');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return {
    port: address.port,
    commands,
    connections: () => connections,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
