/**
 * kombu's Redis envelope (celery-protocol.md §2.1): the JSON object a worker pops from a list, and
 * how it travels to Redis. Pure. An entry's envelopes differ only in a handful of values (ids,
 * times, delivery tag), and the entries of one shape only in their own (name, args, kwargs), so
 * each shape gets a layout once — constant text with slots between — and an envelope is the layout
 * with this message's values (`redisEnvelope`). A script call's arguments go to Redis packed by
 * msgpackr as one MessagePack array (`packArgs`).
 */
import { Packr } from 'msgpackr';
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

/** One LPUSH of one envelope, its text built when `payload` is first read (as it is packed). */
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
}

export interface RedisPush {
  /** The full list key, `globalKeyprefix` and priority suffix included. */
  readonly key: string;
  /** The envelope JSON, to LPUSH as it is (built when first read). */
  readonly payload: string;
}

/** One argument of a script call: text, or a push whose payload is its envelope's text. */
export type ScriptArg = string | RedisPush;

/** Strings and arrays as MessagePack, as Redis's `cmsgpack.unpack` reads them (bullmq packs its script arguments so). */
const packr = new Packr({ useRecords: false, encodeUndefinedAsNil: true });

/**
 * Buffers kept for packing, free between script calls: msgpackr packs into one of them (its
 * `useBuffer`, its arena allocation) instead of a fresh buffer per call. Fresh buffers are memory
 * outside the JavaScript heap, which V8 counts toward starting a full collection: a burst of
 * 1,000,000 runs packed each of its 2,000 batches into new ones, and a full collection, marking the
 * heap of a million entries, ran every ~1.4 s (26.0 s against 17.6 s kept, CHANGELOG.md). Two
 * batches are in flight at once; a few more free are enough. This module is msgpackr's only user
 * in the process, so nothing else packs into a lent buffer.
 */
const PACK_BUFFERS_KEPT = 4;
/** A kept buffer's first size: a batch of 500 envelopes of ~1 KB (msgpackr grows it past that, and the grown one is kept). */
const PACK_BUFFER_BYTES = 1 << 20;
/** A buffer grown past this (a batch of large messages) is not kept, the one lent is: four such would be held for good. */
const PACK_BUFFER_KEPT_MAX_BYTES = 8 << 20;
const packBuffers: Buffer[] = [];

/** The arguments packed, and the release of their buffer, to call once the script call settled (ioredis may send them again until then). */
export interface PackedArgs {
  readonly bytes: Buffer;
  readonly release: () => void;
}

/**
 * The arguments as one MessagePack array of strings, which a Lua script reads with Redis's built-in
 * `cmsgpack.unpack` in one call: the script call carries one argument instead of thousands, each of
 * which would cost the client (ioredis measures, frames and copies every argument) and Redis (one
 * argument object each).
 */
export function packArgs(args: readonly ScriptArg[]): PackedArgs {
  const lent = packBuffers.pop() ?? Buffer.allocUnsafeSlow(PACK_BUFFER_BYTES);
  packr.useBuffer(lent);
  const bytes = packr.pack(args.map((arg) => (typeof arg === 'string' ? arg : arg.payload)));
  // Past the lent buffer's end msgpackr packed into a larger one of its own: that one is kept
  // instead, unless too large to keep.
  const grown = bytes.buffer === lent.buffer ? undefined : Buffer.from(bytes.buffer);
  const kept = grown !== undefined && grown.length <= PACK_BUFFER_KEPT_MAX_BYTES ? grown : lent;
  let released = false;
  return {
    bytes,
    release: () => {
      if (released) return;
      released = true;
      if (packBuffers.length < PACK_BUFFERS_KEPT) packBuffers.push(kept);
    },
  };
}
