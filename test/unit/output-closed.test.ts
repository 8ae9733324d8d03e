import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { onOutputClosed } from '../../src/commands/output-closed.js';

function errorWith(code: string): Error {
  return Object.assign(new Error(`write ${code}`), { code });
}

describe('onOutputClosed', () => {
  function watched() {
    const streams = { stdout: new EventEmitter(), stderr: new EventEmitter() };
    const seen: string[] = [];
    onOutputClosed(
      { closed: () => seen.push('closed'), failed: (stream, error) => seen.push(`failed ${stream}: ${error.message}`) },
      streams,
    );
    return { streams, seen };
  }

  it('a reader gone (EPIPE) on stdout or stderr is the quiet end, heard once however many writes fail after it', () => {
    const { streams, seen } = watched();
    streams.stdout.emit('error', errorWith('EPIPE'));
    streams.stdout.emit('error', errorWith('EPIPE'));
    streams.stderr.emit('error', errorWith('EPIPE'));
    expect(seen).toEqual(['closed']);
    const other = watched();
    other.streams.stderr.emit('error', errorWith('EPIPE'));
    expect(other.seen).toEqual(['closed']);
  });

  it('any other failure to write is a failure naming the stream', () => {
    const { streams, seen } = watched();
    streams.stderr.emit('error', errorWith('EIO'));
    expect(seen).toEqual(['failed stderr: write EIO']);
  });
});
