// Package incidents starts the workflows of seed 3.2.4: a document inserted
// into incidents/items whose type has an entry config.notify.<TYPE> in the
// incidents layer triggers that entry's HTTP call (url, method, auth, body
// with the string "VALUE_INCIDENT" replaced by the whole document), e.g.
// starting a Flowable process instance. It also sends the incident
// notifications that operators subscribe to per layer and type: e-mail
// through hub/notify and webhooks (JSON POST signed with HMAC-SHA256).
//
// Delivery is at least once. The change events of the incidents
// collection are kept in a JetStream work-queue stream and handed out by
// one durable consumer, so with several hubs one acts on each incident, and
// an incident whose call has not succeeded is delivered again after a hub
// restart. Every attempt is recorded on the incident document
// (notifications: [{at, attempt, status, error}], written through the
// store) and counted; the call carries the business key of the incident
// (the Idempotency-Key header, and "VALUE_INCIDENT_ID" in the body), and an
// incident whose document already records a successful call is not called
// again. Failed calls are retried with exponential backoff; after
// maxAttempts the incident is marked dead (notificationState: "dead") and
// a copy goes to the dead-letter stream (<domain>.deadletter.incidents).
package incidents
