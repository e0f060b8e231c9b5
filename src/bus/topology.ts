// Queues of both bus protocols, declared identically by publishers and consumers (RabbitMQ
// refuses a second declaration with other parameters: PRECONDITION_FAILED 406).
//
// native: one durable queue (bus_queue) whose rejected messages are dead-lettered, through the
//   default exchange, into the durable queue `<bus_queue>.dead`, kept for an operator to read.
// canyan: the original's method queues (rating.md §5.1): durable=false, auto_delete=true,
//   dead-lettered to the headers exchange rpc.dlx, which drops messages without a From header.
import type { Channel, Options } from 'amqplib';
import type { BusProtocol } from '../config/config.ts';

export const CANYAN_QUEUES = ['begin_transaction', 'end_transaction', 'record_transaction'] as const;
export type CanyanQueue = (typeof CANYAN_QUEUES)[number];
export const CANYAN_DEAD_LETTER_EXCHANGE = 'rpc.dlx';

export function deadLetterQueueOf(queue: string): string {
  return `${queue}.dead`;
}

const canyanQueueOptions: Options.AssertQueue = {
  durable: false,
  autoDelete: true,
  exclusive: false,
  arguments: { 'x-dead-letter-exchange': CANYAN_DEAD_LETTER_EXCHANGE },
};

/** Declares the queues of `protocol`; answers the queues a consumer reads. */
export async function declareQueues(channel: Channel, protocol: BusProtocol, queue: string): Promise<string[]> {
  if (protocol === 'canyan') {
    await channel.assertExchange(CANYAN_DEAD_LETTER_EXCHANGE, 'headers', { durable: false, autoDelete: true });
    for (const name of CANYAN_QUEUES) await channel.assertQueue(name, canyanQueueOptions);
    return [...CANYAN_QUEUES];
  }
  const dead = deadLetterQueueOf(queue);
  await channel.assertQueue(dead, { durable: true });
  await channel.assertQueue(queue, {
    durable: true,
    arguments: { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': dead },
  });
  return [queue];
}
