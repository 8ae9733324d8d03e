/**
 * kombu's Redis envelope (celery-protocol.md §2.1): the JSON object a worker pops from a list, and
 * how it travels to Redis. Pure. An entry's envelopes differ only in a handful of values (ids,
 * times, delivery tag), and the entries of one shape only in their own (name, args, kwargs), so
 * each shape gets a layout once — constant text with slots between — and an envelope is the layout
 * with this message's values: as text (`redisEnvelope`), or written straight into the bytes of a
 * script call (`packArgs`) without a string in between.
 *
 * The bytes: the arguments of a script call packed into one recycled Buffer (a MessagePack array),
 * each envelope that has a layout copied from its encoded constants and its values. Publishing is
 * bound by client-side work: a 1 KB envelope laid out as a flat string costs more than copying its
 * bytes, every argument of a command costs ioredis (and Redis) work of its own, and fresh memory is
 * expensive (first touch of a page costs microseconds on a VM), so the buffer is reused once its
 * command is answered.
 */
import { quoteJson } from '../celery/json-text.js';
import { CONTENT_ENCODING, CONTENT_TYPE, renderedSlots } from '../celery/message.js';
import type { MessageShape, MessageTemplate, TaskMessage } from '../celery/message.js';
import type { Slot } from '../celery/template-parts.js';

/** A value the envelope takes from each message, as JSON text (see envelopeSlotValue). */
export type EnvelopeSlot = Slot | 'body' | 'expiration' | 'tag';

export interface EnvelopeLayout {
  readonly exchange: string;
  readonly routingKey: string;
  /** `constants.length === slots.length + 1`: constants[0], slots[0], constants[1], … */
  readonly constants: readonly string[];
  readonly slots: readonly EnvelopeSlot[];
}

/** One per shape: the entries of a shape share their envelopes' layout, their own values are slots. */
const layouts = new WeakMap<MessageShape, EnvelopeLayout>();

/**
 * The layout of a template's envelopes, in kombu's key order (`Channel.prepare_message` +
 * `_inplace_augment_message`): headers included, runs of constant text merged. Undefined for a
 * message not made by `renderTaskMessage`.
 */
export function envelopeLayout(message: TaskMessage, exchange: string, routingKey: string): EnvelopeLayout | undefined {
  return renderedSlots(message) === undefined ? undefined : templateLayout(message.template, exchange, routingKey);
}

/** The layout of the envelopes of a template's messages delivered through `exchange` with `routingKey`. */
export function templateLayout(template: MessageTemplate, exchange: string, routingKey: string): EnvelopeLayout {
  const t = template.shape;
  const cached = layouts.get(t);
  if (cached !== undefined && cached.exchange === exchange && cached.routingKey === routingKey) return cached;
  const tokens: (string | { slot: EnvelopeSlot })[] = ['{"body":"', { slot: 'body' }];
  tokens.push(`","content-encoding":${JSON.stringify(CONTENT_ENCODING)},"content-type":${JSON.stringify(CONTENT_TYPE)},"headers":`);
  t.headerParts.forEach((part, i) => tokens.push(i % 2 === 0 ? part : { slot: part as Slot }));
  tokens.push(
    ',"properties":{"correlation_id":',
    { slot: 'id' },
    // Where Celery's send_task_message puts an unknown apply_async option: after reply_to.
    `,"reply_to":${JSON.stringify(t.replyTo)},"periodic_task_name":`,
    { slot: 'entryName' },
    `,"delivery_mode":${t.deliveryMode}`,
  );
  if (t.expires.kind === 'relative') tokens.push(`,"expiration":${JSON.stringify(t.expires.expiration)}`);
  else if (t.expires.kind === 'absolute') tokens.push({ slot: 'expiration' });
  tokens.push(
    `,"delivery_info":{"exchange":${JSON.stringify(exchange)},"routing_key":${JSON.stringify(routingKey)}},"priority":${t.priority},"body_encoding":"base64","delivery_tag":`,
    { slot: 'tag' },
    '}}',
  );
  const constants: string[] = [''];
  const slots: EnvelopeSlot[] = [];
  for (const token of tokens) {
    if (typeof token === 'string') constants[constants.length - 1] += token;
    else {
      slots.push(token.slot);
      constants.push('');
    }
  }
  const layout = { exchange, routingKey, constants, slots };
  layouts.set(t, layout);
  return layout;
}

/**
 * A slot's value for one message, as JSON text (the expiration slot includes its surroundings).
 * ASCII — quoteJson, base64, digits and our times — but for the entry's own values (its name, args,
 * kwargs, reprs: raw UTF-8 in the message, as they were when constant), which are ASCII when
 * `message.template.ownAscii`: packArgs copies ASCII byte for byte.
 */
export function envelopeSlotValue(message: TaskMessage, slot: EnvelopeSlot, deliveryTag: string): string {
  switch (slot) {
    case 'tag':
      return quoteJson(deliveryTag);
    case 'body':
      return message.bodyBase64 ?? Buffer.from(message.body, 'utf8').toString('base64');
    case 'expiration':
      return `,"expiration":${quoteJson(message.properties.expiration ?? '0')}`;
    default:
      return (renderedSlots(message) as NonNullable<ReturnType<typeof renderedSlots>>)[slot];
  }
}

/**
 * The envelope as text. Compact JSON with raw UTF-8: workers read it with `json.loads`, which does
 * not depend on Python's own formatting. Built by concatenation: the text is laid out flat only
 * once, when written (a flat copy made here, with join(), would cost twice as much).
 */
export function redisEnvelope(message: TaskMessage, exchange: string, routingKey: string, deliveryTag: string): string {
  const layout = envelopeLayout(message, exchange, routingKey);
  const p = message.properties;
  if (layout === undefined) {
    // A message made by hand: only its headers' text is known.
    const head = `{"body":"${message.bodyBase64 ?? Buffer.from(message.body, 'utf8').toString('base64')}","content-encoding":${JSON.stringify(message.contentEncoding)},"content-type":${JSON.stringify(message.contentType)},"headers":${message.headersJson}`;
    const expiration = p.expiration === undefined ? '' : `,"expiration":${quoteJson(p.expiration)}`;
    return `${head},"properties":{"correlation_id":${quoteJson(p.correlation_id)},"reply_to":${JSON.stringify(p.reply_to)},"periodic_task_name":${JSON.stringify(p.periodic_task_name)},"delivery_mode":${p.delivery_mode}${expiration},"delivery_info":{"exchange":${JSON.stringify(exchange)},"routing_key":${JSON.stringify(routingKey)}},"priority":${p.priority},"body_encoding":"base64","delivery_tag":${quoteJson(deliveryTag)}}}`;
  }
  const { constants, slots } = layout;
  let out = constants[0] as string;
  for (let i = 0; i < slots.length; i += 1)
    out += envelopeSlotValue(message, slots[i] as EnvelopeSlot, deliveryTag) + (constants[i + 1] as string);
  return out;
}

/**
 * One LPUSH of one envelope, built lazily: the text exists only if someone reads `payload` (a Lua
 * script taking the plan, a test); the transport writes the envelope's bytes from its layout.
 */
export class EnvelopePush {
  private text: string | undefined;

  constructor(
    /** The full list key, `globalKeyprefix` and priority suffix included. */
    readonly key: string,
    readonly message: TaskMessage,
    readonly exchange: string,
    readonly routingKey: string,
    /** A fresh uuid4 drawn when planning, so the envelope is fixed once planned. */
    readonly deliveryTag: string,
  ) {}

  /** The envelope JSON, to LPUSH as it is. */
  get payload(): string {
    this.text ??= redisEnvelope(this.message, this.exchange, this.routingKey, this.deliveryTag);
    return this.text;
  }

  /** Whether `payload` was already built (writing that text is then the cheaper way). */
  get built(): boolean {
    return this.text !== undefined;
  }
}

export interface RedisPush {
  /** The full list key, `globalKeyprefix` and priority suffix included. */
  readonly key: string;
  /** The envelope JSON, to LPUSH as it is (built when first read). */
  readonly payload: string;
}

/** An envelope's ASCII values from this long are copied by one latin1 Buffer#write (see writeAscii). */
const SHORT_VALUE = 24;

/**
 * A layout's constant text as bytes, one array per constant: copied into the command with
 * `TypedArray#set` (a memory copy, no call into C++), which took a quarter of the time of
 * `Buffer#write` of each constant's string. Made once per layout, so once per message shape.
 */
interface ConstantBytes {
  readonly parts: readonly Uint8Array[];
  readonly total: number;
}

const constantBytes = new WeakMap<EnvelopeLayout, ConstantBytes>();

function constantBytesOf(layout: EnvelopeLayout): ConstantBytes {
  let encoded = constantBytes.get(layout);
  if (encoded === undefined) {
    const parts = layout.constants.map((c) => Buffer.from(c, 'utf8'));
    encoded = { parts, total: parts.reduce((sum, b) => sum + b.length, 0) };
    constantBytes.set(layout, encoded);
  }
  return encoded;
}

/** One argument of a script call: text, or a push whose payload is written (from its envelope layout when it has one). */
export type ScriptArg = string | RedisPush;

/** The layout an argument is written from, or undefined when it goes as text. */
function layoutOf(arg: ScriptArg): EnvelopeLayout | undefined {
  return typeof arg !== 'string' && arg instanceof EnvelopePush && !arg.built
    ? envelopeLayout(arg.message, arg.exchange, arg.routingKey)
    : undefined;
}

/**
 * Writes an ASCII value at `at`: a short one byte by byte, a longer one by one latin1 write (the call
 * into C++ costs about as much as copying ~24 characters in JavaScript). Returns its length.
 */
function writeAscii(buf: Buffer, at: number, text: string): number {
  if (text.length >= SHORT_VALUE) return buf.write(text, at, 'latin1');
  for (let k = 0; k < text.length; k += 1) buf[at + k] = text.charCodeAt(k);
  return text.length;
}

/**
 * The values of every layout's slots of the arguments being packed, argument after argument: one
 * array for every call (packArgs is synchronous), grown once to a batch's thousands of values
 * instead of for each call.
 */
const values: string[] = [];
/** Each argument's layout (undefined: it goes as text), likewise. */
const argLayouts: (EnvelopeLayout | undefined)[] = [];

/** A MessagePack str 32 or array 32 header: its type byte, then the length as a 32-bit big-endian integer. */
const STR32 = 0xdb;
const ARRAY32 = 0xdd;
const HEADER = 5;

/**
 * The arguments as one MessagePack array of strings, which a Lua script reads with Redis's built-in
 * `cmsgpack.unpack` in one call: the script call carries one argument instead of thousands, each of
 * which would cost the client (ioredis measures, frames and copies every argument) and Redis (one
 * argument object each). Only the two MessagePack types it needs are written, each with its 32-bit
 * length header (valid MessagePack at any length). An envelope with a layout is written straight
 * from it; text as UTF-8. Written into a buffer from `acquire`, returned too, to release once the
 * call is answered. Two passes over the arguments, the first to measure, the second to write.
 */
export function packArgs(
  args: readonly ScriptArg[],
  acquire: (bytes: number) => Buffer,
): { readonly buffer: Buffer; readonly packed: Buffer } {
  let valueCount = 0;
  let capacity = HEADER;
  for (let a = 0; a < args.length; a += 1) {
    const arg = args[a] as ScriptArg;
    const layout = layoutOf(arg);
    argLayouts[a] = layout;
    // Text: the most it can take, 3 UTF-8 bytes per UTF-16 code unit.
    let bytes: number;
    if (layout === undefined) bytes = (typeof arg === 'string' ? arg : arg.payload).length * 3;
    else {
      const push = arg as EnvelopePush;
      bytes = constantBytesOf(layout).total;
      // Slot values are ASCII by construction (quoteJson, base64, our times), length = bytes, but
      // for an entry's own values (its name, args, kwargs), which may not be.
      const ascii = push.message.template.ownAscii;
      for (const slot of layout.slots) {
        const v = envelopeSlotValue(push.message, slot, push.deliveryTag);
        values[valueCount++] = v;
        bytes += ascii ? v.length : Buffer.byteLength(v, 'utf8');
      }
    }
    capacity += HEADER + bytes;
  }
  const buf = acquire(capacity);
  buf[0] = ARRAY32;
  buf.writeUInt32BE(args.length, 1);
  let off = HEADER;
  let nextValue = 0;
  for (let a = 0; a < args.length; a += 1) {
    const arg = args[a] as ScriptArg;
    const layout = argLayouts[a];
    buf[off] = STR32;
    const start = off + HEADER;
    if (layout === undefined) {
      off = start + buf.write(typeof arg === 'string' ? arg : arg.payload, start, 'utf8');
    } else {
      const push = arg as EnvelopePush;
      const ascii = push.message.template.ownAscii;
      const { parts } = constantBytesOf(layout);
      const slots = layout.slots.length;
      off = start;
      for (let i = 0; i <= slots; i += 1) {
        const c = parts[i] as Uint8Array;
        buf.set(c, off);
        off += c.length;
        if (i === slots) break;
        const v = values[nextValue++] as string;
        off += ascii ? writeAscii(buf, off, v) : buf.write(v, off, 'utf8');
      }
    }
    buf.writeUInt32BE(off - start, start - 4);
  }
  // Not kept until the next call: they belong to messages that can go now.
  values.fill('', 0, valueCount);
  argLayouts.fill(undefined, 0, args.length);
  return { buffer: buf, packed: buf.subarray(0, off) };
}

/** `packArgs` of plain text, in a buffer of its own: for a call made once (a test's). */
export function packStrings(args: readonly string[]): Buffer {
  return packArgs(args, (bytes) => Buffer.alloc(bytes)).packed;
}

/**
 * Recycles argument buffers: a buffer goes back only once its command has been answered (ioredis
 * copies the arguments when it writes the command, which may wait for a connection). Keeps at most `keep` buffers of at most `maxPooledBytes`.
 */
export class BufferPool {
  private readonly free: Buffer[] = [];
  constructor(
    private readonly keep: number,
    private readonly maxPooledBytes = 64 * 1024 * 1024,
  ) {}

  acquire(minBytes: number): Buffer {
    const at = this.free.findIndex((b) => b.length >= minBytes);
    if (at !== -1) return this.free.splice(at, 1)[0] as Buffer;
    // Round up so that slightly bigger batches reuse the buffer too.
    return Buffer.allocUnsafeSlow(Math.max(1 << 20, 2 ** Math.ceil(Math.log2(minBytes))));
  }

  release(buf: Buffer): void {
    if (buf.length <= this.maxPooledBytes && this.free.length < this.keep) this.free.push(buf);
  }
}
