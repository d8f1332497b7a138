package bridge

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/gridedge/gridedge/hub/store"
)

// Event is what an outbound bridge sends for one change event: the change
// and the document as stored when the bridge read it (insert and update;
// none for delete and drop). Several changes of one document in a short
// time may therefore carry the same, latest document; receivers that need
// order compare Document._updated.
//
// JSON form (the body of an AMQP message and of a Kafka record, an element
// of a webhook's array):
//
//	{"key":"gridedge:42","op":"update","layer":"gridflex","collection":"generators",
//	 "id":"TSO","fields":["measurements.activePower"],"time":"2024-05-01T10:00:00.123Z",
//	 "document":{"_id":"TSO","measurements":{"activePower":{"value":3660.17,…}},…}}
type Event struct {
	// Key is the idempotency key: "<domain>:<sequence number of the change
	// event in the bridges' stream>", the same for every delivery of one
	// change to one bridge. AMQP carries it as message-id, Kafka and
	// webhooks as the header Idempotency-Key too.
	Key string `json:"key"`
	// Op is insert, update, delete or drop (store.Op*).
	Op string `json:"op"`
	// Layer and Collection name the collection.
	Layer string `json:"layer"`
	// Collection: see Layer.
	Collection string `json:"collection"`
	// ID is the document's _id ("" for drop).
	ID string `json:"id,omitempty"`
	// Fields are the changed field paths (update) or top-level fields
	// (insert).
	Fields []string `json:"fields,omitempty"`
	// Time is when the hub captured the change.
	Time time.Time `json:"time"`
	// Document is the stored document (insert and update).
	Document store.Document `json:"document,omitempty"`

	// body, when set, is sent instead of the Event's JSON (the output of an
	// outbound converter).
	body []byte
}

// HeaderKey carries Event.Key in Kafka records and webhook requests.
const HeaderKey = "Idempotency-Key"

// EventKey is the idempotency key of the change event with stream
// sequence seq.
func EventKey(domain string, seq uint64) string {
	return domain + ":" + strconv.FormatUint(seq, 10)
}

// RoutingKey is the AMQP routing key and the Kafka record key of e:
// <layer>.<collection>.<id> (for drop: <layer>.<collection>). A topic
// exchange binding such as "gridflex.generators.*" or "gridflex.#" selects
// by layer and collection; Kafka keeps the events of one document in one
// partition, in order.
func (e *Event) RoutingKey() string {
	if e.ID == "" {
		return e.Layer + "." + e.Collection
	}
	return e.Layer + "." + e.Collection + "." + e.ID
}

// Body is what is sent for e: the converter's output when the bridge has
// one, else the Event as JSON.
func (e *Event) Body() ([]byte, error) {
	if e.body != nil {
		return e.body, nil
	}
	return json.Marshal(e)
}

// SetBody replaces the body sent for e.
func (e *Event) SetBody(b []byte) { e.body = b }
