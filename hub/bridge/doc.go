// Package bridge connects the hub's store to other messaging systems
// (X-FLEX, seed 000, 3.3.4 and 3.3.7): RabbitMQ over AMQP 0-9-1, Kafka,
// and HTTP webhooks of another platform.
//
// A bridge goes one way. An outbound bridge (direction "out") forwards the
// change events of selected layers: a JetStream stream captures
// <domain>.storage.changed.<layer>.> for every outbound bridge, each bridge
// reads it through its own durable consumer (Outbound), turns each change
// into an Event with the document as stored, hands a batch to its Sink
// (amqp.Publisher, kafka.Producer, webhook.Sender) and acknowledges the
// batch only once the peer confirmed it. A peer that is down or refuses
// makes the bridge retry the same batch with backoff, in order, for as long
// as it takes: changes wait in the stream, nothing is dropped. A hub that
// stops between the peer's confirmation and its acknowledgement sends the
// batch again after a restart, so delivery is at least once and every Event
// carries an idempotency key (Event.Key) for the receiver to drop
// duplicates by.
//
// An inbound bridge (direction "in") consumes JSON messages (an object or
// an array of objects) from an AMQP queue or a Kafka topic, passes each
// object through a data-model converter (hub/convert) when one is
// configured, and upserts the resulting documents by _id into one
// collection (Inbound). A message is acknowledged (AMQP) or its offset
// committed (Kafka) only after the write is committed, so a broker or hub
// restart redelivers what was not stored; a redelivered message sets the
// same fields of the same document to the same values, which makes the
// _id of the document the idempotency key of inbound messages. A message
// that can never be stored (not JSON, no _id, a failing converter) is
// logged, counted and dropped (AMQP: rejected without requeue, so it goes
// to the queue's dead-letter exchange when there is one).
package bridge
