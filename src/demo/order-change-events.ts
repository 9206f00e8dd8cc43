import type { ChangeEnvelope, ChangeOp, SourceBlock } from '../core/cdc/change-event.js';
import { CDC_VERSION } from '../core/cdc/change-event.js';
import type { LogProducer } from '../ingest/topic-log.js';
import type { NewOrder, OrderSink } from './orders-generator.js';
import { CUSTOMERS } from './orders-source.js';

/**
 * The embedded demo has no MySQL and so no binlog. This sink stands in for
 * "MySQL + rollgate cdc": it gives each generated order an id and a
 * create_time and writes the Debezium change events CDC would have written
 * (same envelope, key and topics) to the in-process log, with a synthetic,
 * ever-growing binlog position. The seed's 100 customers go first, as
 * snapshot records. Downstream, region-orders cannot tell the difference.
 */
export class ChangeEventOrderSink implements OrderSink {
  private nextOrderId = 1;
  private pos = 4;

  constructor(
    private readonly producer: LogProducer,
    private readonly topicPrefix: string,
    private readonly now: () => number = Date.now,
  ) {}

  async snapshotCustomers(): Promise<void> {
    const pos = this.pos;
    await this.producer.send(
      `${this.topicPrefix}customers`,
      CUSTOMERS.map((c, i) => ({
        key: JSON.stringify({ id: c.id }),
        value: JSON.stringify(this.envelope('customers', 'r', null, { ...c }, { pos, row: i }, i === CUSTOMERS.length - 1 ? 'last' : 'true')),
      })),
    );
    this.pos += 1;
  }

  async insertOrders(orders: readonly NewOrder[]): Promise<void> {
    const createTime = new Date(Math.floor(this.now() / 1000) * 1000).toISOString().replace('.000Z', 'Z');
    const pos = this.pos;
    const messages = orders.map((o, i) => {
      const orderId = this.nextOrderId + i;
      const after = { order_id: orderId, order_revenue: o.order_revenue, order_region: o.order_region, customer_id: o.customer_id, create_time: createTime };
      return { key: JSON.stringify({ order_id: orderId }), value: JSON.stringify(this.envelope('orders', 'c', null, after, { pos, row: i }, 'false')) };
    });
    await this.producer.send(`${this.topicPrefix}orders`, messages);
    // Only after the send: a failed insert is retried with the same ids, as MySQL would have rolled back.
    this.nextOrderId += orders.length;
    this.pos += 1;
  }

  private envelope(
    table: string,
    op: ChangeOp,
    before: ChangeEnvelope['before'],
    after: ChangeEnvelope['after'],
    at: { pos: number; row: number },
    snapshot: SourceBlock['snapshot'],
  ): ChangeEnvelope {
    const ts = this.now();
    return {
      before,
      after,
      source: {
        version: CDC_VERSION,
        connector: 'mysql',
        name: 'embedded',
        ts_ms: ts,
        snapshot,
        db: 'embedded',
        table,
        server_id: 0,
        gtid: null,
        file: 'embedded-bin.000001',
        pos: at.pos,
        row: at.row,
        thread: null,
        query: null,
      },
      op,
      ts_ms: ts,
      transaction: null,
    };
  }
}
