// The RabbitMQ event bus between HEP agents (publishers, with an on-disk spool) and rating
// engines (consumers). See docs/bus.md.
export { openBusOutlet, type BusOutlet, type BusOutletOptions, type BusSettings } from './publisher.ts';
export { startBusConsumer, type BusConsumer, type BusConsumerOptions, type BusConsumerSettings } from './consumer.ts';
export { decodeEvent, encodeEvent, eventOfIntent, type BusEvent, type DecodeResult } from './events.ts';
export type { ConnectionState, RetryOptions } from './connector.ts';
